import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { UserId, Username } from "../../src/domain/User.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Registering is idempotent on the username, and a user is found again by id or by name: a
 * registration whose answer was lost is recovered by sending it again or by looking the name up.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const freshName = (label: string) => `${label}_${uniqueKey("u").replace(/-/g, "_")}`.slice(0, 64)

describe("POST /api/users", () => {
  test("the same registration again answers the same 201 body, marked as a replay", async () => {
    const username = freshName("Rex")
    const first = await postJson(service, "/api/users", { username })
    expect(first.status).toBe(201)
    expect(first.headers.get("idempotent-replayed")).toBeNull()
    const again = await postJson(service, "/api/users", { username })
    expect(again.status).toBe(201)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(again.text).toBe(first.text)
    expect(first.body).toEqual({ userId: expect.any(Number), username })
  })

  test("registrations of one name sent at once make one player", async () => {
    const username = freshName("racer")
    const answers = await Promise.all(Array.from({ length: 8 }, () => postJson(service, "/api/users", { username })))
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201))
    expect(new Set(answers.map((a) => a.body.userId)).size).toBe(1)
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === null)).toHaveLength(1)
  })

  test("a name taken in another case, or a system account's name, is 409 USERNAME_TAKEN", async () => {
    const username = freshName("Case")
    expect((await postJson(service, "/api/users", { username })).status).toBe(201)
    for (const taken of [username.toUpperCase(), username.toLowerCase(), "treasury", "TREASURY"]) {
      const answer = await postJson(service, "/api/users", { username: taken })
      expect({ taken, status: answer.status, code: answer.body.code }).toEqual({ taken, status: 409, code: "USERNAME_TAKEN" })
      expect(answer.headers.get("idempotent-replayed")).toBeNull()
    }
  })
})

describe("GET /api/users", () => {
  test("by id and by name (any case): userId, username, kind and createdAt", async () => {
    const username = freshName("Finder")
    const created = await postJson(service, "/api/users", { username })
    const userId = created.body.userId as number
    const byId = await getJson(service, `/api/users/${userId}`)
    expect(byId.status).toBe(200)
    expect(byId.body).toEqual({ userId, username, kind: "USER", createdAt: expect.any(String) })
    expect(Number.isNaN(Date.parse(byId.body.createdAt as string))).toBe(false)
    for (const asked of [username, username.toUpperCase()]) {
      const byName = await getJson(service, `/api/users?username=${encodeURIComponent(asked)}`)
      expect(byName.status).toBe(200)
      expect(byName.body).toEqual(byId.body)
    }
  })

  test("system accounts are found with kind SYSTEM", async () => {
    expect((await getJson(service, "/api/users/1")).body).toMatchObject({ userId: 1, username: "treasury", kind: "SYSTEM" })
    const treasury = await getJson(service, "/api/users?username=TREASURY")
    expect(treasury.body).toMatchObject({ userId: 1, kind: "SYSTEM" })
  })

  test("no such user: 404 USER_NOT_FOUND as JSON; a malformed id or name: 400", async () => {
    const missingId = await getJson(service, "/api/users/999999999")
    expect(missingId.status).toBe(404)
    expect(missingId.body).toMatchObject({ code: "USER_NOT_FOUND", userId: 999999999 })
    const missingName = await getJson(service, `/api/users?username=${freshName("nobody")}`)
    expect(missingName.status).toBe(404)
    expect(missingName.body).toMatchObject({ code: "USER_NOT_FOUND", _tag: "UsernameNotFound" })
    for (const path of ["/api/users/0", "/api/users/abc", "/api/users?username=a%20b", "/api/users"]) {
      const answer = await getJson(service, path)
      expect({ path, status: answer.status, code: answer.body.code }).toEqual({ path, status: 400, code: "VALIDATION_ERROR" })
    }
  })

  test("the typed client decodes a profile and the two not-found errors", async () => {
    const username = freshName("typed")
    await postJson(service, "/api/users", { username })
    const profile = await Effect.runPromise(service.client.users.find({ urlParams: { username: Username.make(username) } }))
    expect(profile.createdAt).toBeInstanceOf(Date)
    const got = await Effect.runPromise(service.client.users.get({ path: { userId: profile.userId } }))
    expect(got).toEqual(profile)
    const missing = await Effect.runPromise(
      Effect.flip(service.client.users.get({ path: { userId: UserId.make(999999998) } }))
    )
    expect(missing._tag).toBe("UserNotFound")
    const missingName = await Effect.runPromise(
      Effect.flip(service.client.users.find({ urlParams: { username: Username.make(freshName("ghost")) } }))
    )
    expect(missingName._tag).toBe("UsernameNotFound")
  })
})
