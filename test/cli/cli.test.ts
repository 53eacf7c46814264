import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { testAdminKey } from "../support/TestApiKey.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/** The dino-wallet CLI, run as a process against a running service, as an operator runs it. */

const root = join(import.meta.dir, "..", "..")
let service: TestService
let folder: string
beforeAll(async () => {
  service = await startService()
  folder = await mkdtemp(join(tmpdir(), "dino-cli-"))
})
afterAll(async () => {
  await service.dispose()
  await rm(folder, { recursive: true, force: true })
})

/** Runs `dino-wallet ...args` with the URL and key in the environment unless `env` says otherwise. */
const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(root, "packages", "cli", "src", "main.ts"), ...args], {
      cwd: folder,
      env: { PATH: process.env.PATH ?? "", DINO_WALLET_URL: service.baseUrl, DINO_WALLET_API_KEY: testAdminKey, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.once("exit", (code) => resolve({ code, stdout, stderr }))
  })

/**
 * Starts `dino-wallet ...args` and leaves it running: `until` waits (up to a minute) for its
 * stdout to satisfy a test, `interrupt` sends SIGINT (Ctrl-C) and answers its exit code.
 */
const follow = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [join(root, "packages", "cli", "src", "main.ts"), ...args], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? "", DINO_WALLET_URL: service.baseUrl, DINO_WALLET_API_KEY: testAdminKey },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    output: () => ({ stdout, stderr }),
    until: async (done: (stdout: string) => boolean) => {
      for (let waited = 0; !done(stdout) && child.exitCode === null && waited < 60_000; waited += 100) await Bun.sleep(100)
      return stdout
    },
    interrupt: () => {
      child.kill("SIGINT")
      return exited
    },
    kill: () => child.kill("SIGKILL")
  }
}

const json = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const result = await cli(["--json", ...args], env)
  expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: "" })
  return JSON.parse(result.stdout) as Record<string, any>
}

describe("dino-wallet", () => {
  test("users create and find, topup with a reason, balance, history", async () => {
    const name = `cli_${Date.now()}`
    const created = await json(["users", "create", name])
    expect(created.username).toBe(name)
    const again = await json(["users", "create", name])
    expect(again.userId).toBe(created.userId)
    expect((await json(["users", "find", name.toUpperCase()])).userId).toBe(created.userId)
    expect((await json(["users", "find", String(created.userId)])).username).toBe(name)

    const receipt = await json(["topup", String(created.userId), "300", "--asset", "GOLD_COINS", "--reason", "welcome pack"])
    expect(receipt).toMatchObject({ type: "TOPUP", amount: 300, balance: 300 })
    const stored = await getJson(service, `/api/transactions/${receipt.transactionId}`)
    expect(stored.body.metadata).toEqual({ reason: "welcome pack" })

    const text = await cli(["balance", String(created.userId), "--asset", "GOLD_COINS"])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/GOLD_COINS\s+300\s+held 0/)
    const page = await json(["history", String(created.userId), "--limit", "5"])
    expect(page.items).toHaveLength(1)
    expect(page.items[0]).toMatchObject({ type: "TOPUP", amount: 300 })
  }, 300_000)

  test("a refused write is one line on stderr with the API's code, and exit 1", async () => {
    const userId = await newPlayer(service, "cli_poor")
    const result = await cli(["spend", String(userId), "50"])
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toMatch(/^INSUFFICIENT_FUNDS: /)
    const unknown = await cli(["balance", "999999999"])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("USER_NOT_FOUND")
  }, 300_000)

  test("--api-key wins over the environment; no key is 401", async () => {
    const withFlag = await cli(["--api-key", testAdminKey, "assets", "list"], { DINO_WALLET_API_KEY: "" })
    expect(withFlag.code).toBe(0)
    expect(withFlag.stdout).toContain("GOLD_COINS")
    const wrong = await cli(["--api-key", `dwk_${"C".repeat(43)}`, "assets", "list"])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain("UNAUTHORIZED")
  }, 300_000)

  test("keys create, list and revoke; assets create and list", async () => {
    const created = await json(["keys", "create", "--name", "cli reader", "--scope", "read"])
    expect(created).toMatchObject({ name: "cli reader", scopes: ["read"] })
    expect(String(created.key)).toStartWith("dwk_")
    const list = await json(["keys", "list"])
    expect(list.items.map((k: { keyId: string }) => k.keyId)).toContain(created.keyId)
    const reader = await cli(["--api-key", created.key, "keys", "list"])
    expect(reader.stderr).toContain("FORBIDDEN")
    const revoked = await json(["keys", "revoke", created.keyId])
    expect(revoked.revokedAt).not.toBeNull()

    const code = `CLI_${Date.now().toString(36).toUpperCase()}`
    expect(await json(["assets", "create", code, "--name", "Cli Coins", "--max-debt", "5"])).toMatchObject({ code, maxDebt: 5 })
    expect((await json(["assets", "list"])).assets.map((a: { code: string }) => a.code)).toContain(code)
    expect(await json(["assets", "update", code, "--name", "Renamed Coins"])).toMatchObject({ code, name: "Renamed Coins", maxDebt: 5 })
    expect(await json(["assets", "update", code, "--max-debt", "9"])).toMatchObject({ code, name: "Renamed Coins", maxDebt: 9 })
    expect(await json(["assets", "update", code, "--name", "Both", "--max-debt", "0"])).toMatchObject({ name: "Both", maxDebt: 0 })
    const neither = await cli(["assets", "update", code])
    expect(neither.code).toBe(1)
    expect(neither.stderr).toContain("expected name, maxDebt or both")
    const missing = await cli(["assets", "update", "NO_SUCH_ASSET", "--name", "x"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("ASSET_NOT_FOUND")
  }, 300_000)

  test("reverse with a required reason, and reconcile", async () => {
    const userId = await newPlayer(service, "cli_rev")
    const bonus = await json(["bonus", String(userId), "40"])
    const missingReason = await cli(["reverse", bonus.transactionId])
    expect(missingReason.code).toBe(1)
    const reversal = await json(["reverse", bonus.transactionId, "--reason", "granted by mistake"])
    expect(reversal).toMatchObject({ type: "REVERSAL", reverses: bonus.transactionId, metadata: { reason: "granted by mistake" } })
    const report = await cli(["reconcile"])
    expect(report.code).toBe(0)
    expect(report.stdout).toStartWith("ok at ")
  }, 300_000)

  test("bulk --file: chunks with a progress bar; the same file again replays, refused rows exit 1", async () => {
    const players = [await newPlayer(service, "cli_bulk"), await newPlayer(service, "cli_bulk")]
    const rows = Array.from({ length: 25 }, (_, i) => `${players[i % 2]},${i + 1},,payout ${i}`)
    const file = join(folder, "payouts.csv")
    await writeFile(file, ["userId,amount,assetCode,reason", ...rows].join("\n") + "\n")
    const first = await cli(["bulk", "--file", file, "--chunk", "10"])
    expect(first.code).toBe(0)
    expect(first.stdout).toContain("25 applied, 0 refused")
    expect(first.stderr).toContain("] 10/25")
    expect(first.stderr).toContain("] 25/25")
    const balance = (userId: number) => getJson(service, `/api/wallets/${userId}/balance?assetCode=GOLD_COINS`).then((r) => r.body.balance)
    const expected = [0, 1].map((p) => rows.reduce((sum, _row, i) => sum + (i % 2 === p ? i + 1 : 0), 0))
    expect([await balance(players[0]!), await balance(players[1]!)]).toEqual(expected)
    // Run again: every row's key is the same, so nothing is paid twice.
    expect((await cli(["bulk", "--file", file])).code).toBe(0)
    expect([await balance(players[0]!), await balance(players[1]!)]).toEqual(expected)

    const spends = join(folder, "spends.csv")
    await writeFile(spends, `userId,amount\n${players[0]},1\n${players[0]},999999\n`)
    const refused = await cli(["bulk", "--file", spends, "--type", "SPEND"])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(/1 applied, 1 refused\nline 3: 409 INSUFFICIENT_FUNDS/)
  }, 300_000)

  test("events tail --json --after 0 prints every transaction's event, follows new ones, and Ctrl-C ends it with 0", async () => {
    const userId = await newPlayer(service, "cli_events")
    const pay = async (amount: number) => {
      const receipt = await postJson(service, "/api/wallets/topup", { userId, assetCode: "GOLD_COINS", amount, idempotencyKey: uniqueKey() })
      expect(receipt.status).toBe(201)
      return receipt.body.transactionId as string
    }
    const written = [await pay(11), await pay(12)]
    const tail = follow(["--json", "events", "tail", "--after", "0", "--types", "transaction.posted"])
    try {
      const events = (stdout: string) => stdout.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, any>)
      const transactionIds = (stdout: string) => events(stdout).map((event) => event.data.transactionId as string)
      await tail.until((stdout) => written.every((id) => transactionIds(stdout).includes(id)))
      expect(transactionIds(tail.output().stdout)).toEqual(expect.arrayContaining(written))
      // A write after the tail caught up shows up too: it keeps polling from nextAfter.
      const later = await pay(13)
      await tail.until((stdout) => transactionIds(stdout).includes(later))
      const seen = events(tail.output().stdout)
      expect(seen.map((event) => event.data.transactionId)).toEqual(expect.arrayContaining([...written, later]))
      // In feed order, each once, every line the API's own event JSON.
      const sequences = seen.map((event) => event.sequence as number)
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b))
      expect(new Set(sequences).size).toBe(sequences.length)
      expect(seen.find((event) => event.data.transactionId === later)).toMatchObject({
        type: "transaction.posted",
        data: { type: "TOPUP", legs: [{ amount: 13, assetCode: "GOLD_COINS", toUserId: userId }] }
      })
      expect(await tail.interrupt()).toBe(0)
      expect(tail.output().stderr).toBe("")
    } finally {
      tail.kill()
    }
  }, 300_000)

  test("events tail in text: one line per event from a sequence on; a bad --types exits 1", async () => {
    const userId = await newPlayer(service, "cli_events_text")
    const first = await postJson(service, "/api/wallets/bonus", { userId, assetCode: "GOLD_COINS", amount: 7, idempotencyKey: uniqueKey() })
    expect(first.status).toBe(201)
    const bonusId = first.body.transactionId as string
    const tail = follow(["events", "tail", "--after", "0"])
    try {
      const line = (stdout: string) => stdout.split("\n").find((text) => text.includes(bonusId))
      await tail.until((stdout) => line(stdout) !== undefined)
      expect(line(tail.output().stdout)).toMatch(new RegExp(`^#\\d+ \\S+ transaction\\.posted BONUS ${bonusId} 7 GOLD_COINS 1->${userId}$`))
      expect(await tail.interrupt()).toBe(0)
    } finally {
      tail.kill()
    }
    const bad = await cli(["events", "tail", "--types", "no.such.type"])
    expect(bad.code).toBe(1)
    expect(bad.stderr).not.toBe("")
  }, 300_000)
})
