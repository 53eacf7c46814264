import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import {
  type BalanceRow,
  type BalancesRequest,
  type HistoryRequest,
  type HistoryRow,
  LedgerRepository
} from "../ledger/LedgerRepository.ts"
import { readBatchSize } from "../observability/Metrics.ts"
import { batching } from "./Batching.ts"

export const ReadBatcherConfig = Config.all({
  max: Config.integer("READ_BATCH_MAX").pipe(
    Config.validate({ message: "Expected an integer from 1 to 1000", validation: (n) => n >= 1 && n <= 1_000 }),
    Config.withDefault(100)
  ),
  workers: Config.integer("READ_BATCH_WORKERS").pipe(
    Config.validate({ message: "Expected an integer from 1 to 64", validation: (n) => n >= 1 && n <= 64 }),
    Config.withDefault(2)
  )
})

/** The rows of a batched read, split by the read each answers (numbered from 1, in order). */
const byRead = <Row extends { readonly read: number }>(count: number, rows: ReadonlyArray<Row>) => {
  const answers = Array.from({ length: count }, (): Array<Row> => [])
  for (const row of rows) answers[row.read - 1]!.push(row)
  return answers
}

/**
 * Balance and history reads, batched: the reads of concurrent requests share one statement
 * (wallet/Batching.ts). Game clients poll balances far more often than they write, and a read's
 * own statement (the driver's socket writes, the pool, the fiber work of @effect/sql, the
 * database's parse and plan) cost more of its CPU than anything else it does. Each read still
 * gets its own rows, read at a moment between its arrival and its answer.
 */
export class ReadBatcher extends Effect.Service<ReadBatcher>()("ReadBatcher", {
  scoped: Effect.gen(function*() {
    const ledger = yield* LedgerRepository
    const options = yield* ReadBatcherConfig

    const balances = yield* batching(
      (reads: ReadonlyArray<BalancesRequest>) =>
        Metric.update(readBatchSize, reads.length).pipe(
          Effect.zipRight(ledger.balancesOf(reads)),
          Effect.map((rows) => byRead<BalanceRow & { readonly read: number }>(reads.length, rows))
        ),
      options
    )
    const history = yield* batching(
      (reads: ReadonlyArray<HistoryRequest>) =>
        Metric.update(readBatchSize, reads.length).pipe(
          Effect.zipRight(ledger.historiesOf(reads)),
          Effect.map((rows) => byRead<HistoryRow>(reads.length, rows))
        ),
      options
    )

    return { balances, history } as const
  })
}) {}
