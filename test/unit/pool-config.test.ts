import { expect, test } from "bun:test"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { PoolConfig } from "../../src/Sql.ts"

/** The pool's timeouts as the environment sets them: the client-side bound sits above the server's. */
const read = (settings: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(PoolConfig, ConfigProvider.fromMap(new Map(Object.entries(settings))))))

test("DATABASE_QUERY_TIMEOUT_MS defaults to a second above the statement timeout", () => {
  const defaults = read({})
  expect(Either.isRight(defaults) && defaults.right.timeouts).toEqual({ statementTimeoutMs: 5_000, queryTimeoutMs: 6_000 })
  const raised = read({ DATABASE_STATEMENT_TIMEOUT_MS: "20000" })
  expect(Either.isRight(raised) && raised.right.timeouts).toEqual({ statementTimeoutMs: 20_000, queryTimeoutMs: 21_000 })
  const set = read({ DATABASE_QUERY_TIMEOUT_MS: "9000" })
  expect(Either.isRight(set) && set.right.timeouts.queryTimeoutMs).toBe(9_000)
})

test("a DATABASE_QUERY_TIMEOUT_MS not above the statement timeout stops the start-up, naming it", () => {
  for (const value of ["5000", "100", "0", "-1", "soon"]) {
    const refused = read({ DATABASE_QUERY_TIMEOUT_MS: value })
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.isLeft(refused) && String(refused.left)).toContain("DATABASE_QUERY_TIMEOUT_MS")
  }
})
