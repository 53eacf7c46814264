import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/**
 * The service's metrics, in one place so the names an operator scrapes are easy to find.
 * Labels stay low-cardinality: no user ids, keys or raw paths.
 */

export const httpRequests = Metric.counter("http_requests_total", {
  description: "HTTP requests answered, by method and status",
  incremental: true
})

export const httpRequestDuration = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "Time from request to response"
)

export const walletWrites = Metric.counter("wallet_writes_total", {
  description: "Topups, bonuses and spends, by type and outcome (applied, replayed or the error code)",
  incremental: true
})

export const transactionRetries = Metric.counter("wallet_transaction_retries_total", {
  description: "Write transactions run again after a serialization failure or deadlock",
  incremental: true
})

export const writeBatchSize = Metric.histogram(
  "wallet_write_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 14 }),
  "Commands committed together in one database transaction by the group committer"
)

export const writeQueueDepth = Metric.gauge("wallet_write_queue_depth", {
  description: "Writes admitted to the group committer and not yet answered (bounded by WRITE_QUEUE_MAX)"
})

export const idempotencyRecordsPruned = Metric.counter("wallet_idempotency_records_pruned_total", {
  description: "Idempotency records deleted after IDEMPOTENCY_RETENTION",
  incremental: true
})
