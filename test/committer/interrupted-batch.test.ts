import { afterAll, beforeAll, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { AssetCode } from "../../src/domain/Asset.ts"
import { ServiceUnavailable } from "../../src/domain/Http.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { UserId } from "../../src/domain/User.ts"
import { writeCommand } from "../../src/domain/Write.ts"
import { LedgerRepository } from "../../src/ledger/LedgerRepository.ts"
import { ShutdownBudget } from "../../src/Shutdown.ts"
import { SqlLive } from "../../src/Sql.ts"
import { Committer } from "../../src/wallet/Committer.ts"
import { EventSignals } from "../../src/wallet/EventSignals.ts"
import { FreshDatabaseLive } from "../support/Database.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { uniqueKey } from "../support/TestService.ts"

/**
 * A batch interrupted inside its transaction (as the writer is at shutdown, or a batch cut
 * short by a bound) must answer its callers 503 SERVICE_UNAVAILABLE, which a client retries with
 * the same key, not an interruption (which the HTTP edge turned into a 500). The ledger is the
 * real one over a real database; only its last statement, the batch's write, is interrupted,
 * for the first batch only.
 */

let interruptions = 1

/** The real repository, whose batch write is interrupted while `interruptions` lasts. */
const InterruptedOnceLive = Layer.effect(
  LedgerRepository,
  Effect.map(LedgerRepository, (ledger) =>
    LedgerRepository.make({
      ...ledger,
      writeBatch: (batch) => interruptions-- > 0 ? Effect.interrupt : ledger.writeBatch(batch)
    }))
).pipe(Layer.provide(LedgerRepository.Default))

let runtime: ManagedRuntime.ManagedRuntime<Committer | SqlClient.SqlClient, unknown>
beforeAll(() => {
  runtime = ManagedRuntime.make(
    Committer.Default.pipe(
      Layer.provide(InterruptedOnceLive),
      Layer.provide(ShutdownBudget.Default),
      Layer.provide(EventSignals.Default),
      Layer.provideMerge(SqlLive),
      Layer.provide(FreshDatabaseLive)
    )
  )
})
afterAll(() => runtime.dispose())

test("a batch interrupted inside its transaction answers 503 (safe to retry), and the retry applies once", async () => {
  const command = writeCommand(
    "TOPUP",
    { userId: UserId.make(2), assetCode: AssetCode.make("GOLD_COINS"), amount: Amount.make(7) },
    IdempotencyKey.make(uniqueKey("interrupted"))
  )
  const submit = Effect.flatMap(Committer, (committer) => committer.submit(command))

  const first = await runtime.runPromiseExit(submit)
  expect(Exit.isFailure(first)).toBe(true)
  const failure = Exit.isFailure(first) ? Cause.failureOption(first.cause) : Option.none()
  const error = Option.getOrUndefined(failure)
  expect(error).toBeInstanceOf(ServiceUnavailable)
  expect(error instanceof ServiceUnavailable && error.code).toBe("SERVICE_UNAVAILABLE")

  // Nothing of it was committed: the key is free again, and its retry applies the write once.
  const retried = await runtime.runPromiseExit(submit)
  expect(Exit.isSuccess(retried) && retried.value._tag).toBe("Applied")
  const replayed = await runtime.runPromiseExit(submit)
  expect(Exit.isSuccess(replayed) && replayed.value._tag).toBe("Replayed")
  const applied = await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`SELECT count(*)::int AS n FROM idempotency_records WHERE key = ${command.idempotencyKey}`))
  expect(applied[0]!.n).toBe(1)
  expect(await runtime.runPromise(ledgerViolations)).toEqual(noViolations)
})
