import { describe, expect, test } from "bun:test"
import { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { retryOnConflict } from "../../src/wallet/TransactionRetry.ts"

/** A transaction that fails its first `failures` attempts with the given SQLSTATE. */
const flaky = (failures: number, sqlState: string, channel: "fail" | "die") => {
  let attempts = 0
  const transaction = Effect.suspend(() => {
    attempts++
    if (attempts > failures) return Effect.succeed("committed")
    const error = new SqlError({ cause: { code: sqlState }, message: "aborted" })
    return channel === "fail" ? Effect.fail(error) : Effect.die(error)
  })
  return { transaction, attempts: () => attempts }
}

describe("retryOnConflict", () => {
  for (const sqlState of ["40001", "40P01"]) {
    for (const channel of ["fail", "die"] as const) {
      test(`runs the transaction again after ${sqlState} on the ${channel} channel`, async () => {
        const { attempts, transaction } = flaky(3, sqlState, channel)
        expect(await Effect.runPromise(retryOnConflict(transaction))).toBe("committed")
        expect(attempts()).toBe(4)
      })
    }
  }

  test("gives up after 5 retries and leaves a defect", async () => {
    const { attempts, transaction } = flaky(100, "40001", "fail")
    const exit = await Effect.runPromiseExit(retryOnConflict(transaction))
    expect(Exit.isFailure(exit) && Option.isSome(Cause.dieOption(exit.cause))).toBe(true)
    expect(attempts()).toBe(6)
  })

  test("leaves every other failure alone, unretried", async () => {
    const { attempts, transaction } = flaky(1, "23505", "fail")
    const exit = await Effect.runPromiseExit(retryOnConflict(transaction))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(attempts()).toBe(1)
    const domain = await Effect.runPromise(Effect.flip(retryOnConflict(Effect.fail("InsufficientFunds"))))
    expect(domain).toBe("InsufficientFunds")
  })
})
