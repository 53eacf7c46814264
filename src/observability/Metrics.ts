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

export const readBatchSize = Metric.histogram(
  "wallet_read_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 11 }),
  "Balance or history reads answered together by one database statement"
)

export const writeQueueDepth = Metric.gauge("wallet_write_queue_depth", {
  description: "Writes admitted to the group committer and not yet answered (bounded by WRITE_QUEUE_MAX)"
})

export const idempotencyRecordsPruned = Metric.counter("wallet_idempotency_records_pruned_total", {
  description: "Idempotency records deleted after IDEMPOTENCY_RETENTION",
  incremental: true
})

/**
 * A metric with two labels set, made once per pair of values. `Metric.tagged` makes a new
 * metric whose key is built and hashed again to find its state in the registry on every update;
 * the service counts every request, so the pairs are kept. The values are bounded as the labels
 * themselves must be (methods Bun accepts, status codes, write types, error codes).
 */
const withLabels = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, first: string, second: string) => {
  const made = new Map<string, Metric.Metric<Type, In, Out>>()
  return (firstValue: string, secondValue: string) => {
    const key = `${firstValue}\u0000${secondValue}`
    let labelled = made.get(key)
    if (labelled === undefined) {
      labelled = Metric.tagged(Metric.tagged(metric, first, firstValue), second, secondValue)
      made.set(key, labelled)
    }
    return labelled
  }
}

/** `http_requests_total{method, status}`. */
export const httpRequestsOf = withLabels(httpRequests, "method", "status")

/** `wallet_writes_total{type, outcome}`. */
export const walletWritesOf = withLabels(walletWrites, "type", "outcome")

export const holdsExpired = Metric.counter("wallet_holds_expired_total", {
  description: "Holds released by the service past their expiresAt (status EXPIRED)",
  incremental: true
})

export const holdsExpiryFailures = Metric.counter("wallet_holds_expiry_failures_total", {
  description: "Releases of expired holds that failed for the hold itself (a defect, or the database refusing it); " +
    "each such hold is skipped by the expiry rounds for a while, and the others are released",
  incremental: true
})
