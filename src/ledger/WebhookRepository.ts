import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type { EventId, EventType } from "../domain/Event.ts"
import type { TransactionId } from "../domain/Transaction.ts"
import type { WebhookId } from "../domain/Webhook.ts"

export interface WebhookRow {
  readonly webhookId: WebhookId
  readonly url: string
  readonly eventTypes: ReadonlyArray<EventType> | null
  readonly description: string | null
  readonly status: "ACTIVE" | "DISABLED"
  readonly createdAt: Date
  readonly disabledAt: Date | null
}

export interface DeliveryRow {
  readonly eventId: EventId
  readonly sequence: number
  readonly status: "PENDING" | "DELIVERED" | "FAILED"
  readonly attempt: number
  readonly responseStatus: number | null
  readonly error: string | null
  readonly lastAttemptAt: Date | null
  readonly nextAttemptAt: Date | null
}

/** A delivery claimed for one attempt, with what sending it needs; the event is null once pruned. */
export interface ClaimedDelivery {
  readonly sequence: number
  readonly webhookId: WebhookId
  readonly eventId: EventId
  readonly attempt: number
  readonly url: string
  readonly secret: string
  readonly event: { readonly type: EventType; readonly createdAt: Date; readonly transactionId: TransactionId } | null
}

/** What an attempt ended with. */
export type AttemptOutcome =
  | { readonly _tag: "Delivered"; readonly responseStatus: number }
  | { readonly _tag: "Retry"; readonly responseStatus: number | null; readonly error: string | null; readonly afterMs: number }
  | { readonly _tag: "Failed"; readonly responseStatus: number | null; readonly error: string | null; readonly disable: boolean }

/** Webhook endpoints and their deliveries. Columns named in camelCase here, as in LedgerRepository. */
export class WebhookRepository extends Effect.Service<WebhookRepository>()("WebhookRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const webhookColumns = sql`id AS "webhookId", url, event_types AS "eventTypes", description, status,
      created_at AS "createdAt", disabled_at AS "disabledAt"`

    /**
     * Adds an endpoint unless `max` exist already: the count and the insert are one statement
     * under a transaction-level advisory lock, so two creations at once cannot both pass it.
     */
    const create = (
      row: { readonly id: WebhookId; readonly url: string; readonly eventTypes: ReadonlyArray<EventType> | null; readonly description: string | null; readonly secret: string },
      max: number
    ) =>
      Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(hashtext('dino_wallet_webhooks'))`.withoutTransform
        const rows = yield* sql<WebhookRow>`
          INSERT INTO webhooks (id, url, event_types, description, secret)
          SELECT ${row.id}, ${row.url}, ${row.eventTypes}::varchar[], ${row.description}, ${row.secret}
           WHERE (SELECT count(*) FROM webhooks) < ${max}
          RETURNING ${webhookColumns}`.withoutTransform
        return rows[0]
      }).pipe(sql.withTransaction)

    const list = sql<WebhookRow>`SELECT ${webhookColumns} FROM webhooks ORDER BY created_at, id`.withoutTransform

    /** Deletes an endpoint and its deliveries; whether it existed. */
    const remove = (id: WebhookId) =>
      sql`DELETE FROM webhooks WHERE id = ${id} RETURNING id`.withoutTransform.pipe(Effect.map((rows) => rows.length > 0))

    const exists = (id: WebhookId) =>
      sql`SELECT 1 FROM webhooks WHERE id = ${id}`.withoutTransform.pipe(Effect.map((rows) => rows.length > 0))

    /** A webhook's newest deliveries, down its (webhook_id, event_sequence DESC) index. */
    const deliveries = (id: WebhookId, limit: number) =>
      sql<DeliveryRow>`
        SELECT event_id AS "eventId", event_sequence AS sequence, status, attempt, response_status AS "responseStatus",
               error, last_attempt_at AS "lastAttemptAt",
               CASE WHEN status = 'PENDING' THEN next_attempt_at END AS "nextAttemptAt"
          FROM webhook_deliveries WHERE webhook_id = ${id}
         ORDER BY event_sequence DESC
         LIMIT ${limit}`.withoutTransform

    /**
     * Claims up to `limit` due deliveries of active endpoints for one attempt each: SKIP LOCKED,
     * so processes claiming at once take different ones, and a lease (the next attempt moved
     * `leaseMs` ahead) instead of a lock held while sending, so a process killed mid-attempt
     * leaves its claims to be taken over when the lease ends.
     */
    const claim = (limit: number, leaseMs: number) =>
      sql<ClaimedDelivery & { eventType: EventType | null; eventCreatedAt: Date | null; transactionId: TransactionId | null }>`
        WITH due AS (
          SELECT d.event_sequence, d.webhook_id
            FROM webhook_deliveries d
            JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'ACTIVE'
           WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
           ORDER BY d.next_attempt_at, d.event_sequence
           LIMIT ${limit}
           FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE webhook_deliveries d
           SET attempt = d.attempt + 1, last_attempt_at = now(),
               next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
          FROM due
          JOIN webhooks w ON w.id = due.webhook_id
          LEFT JOIN events e ON e.sequence = due.event_sequence
         WHERE d.event_sequence = due.event_sequence AND d.webhook_id = due.webhook_id
        RETURNING d.event_sequence AS sequence, d.webhook_id AS "webhookId", d.event_id AS "eventId", d.attempt, w.url, w.secret,
                  e.type AS "eventType", e.created_at AS "eventCreatedAt", e.transaction_id AS "transactionId"`.withoutTransform.pipe(
        Effect.map((rows) =>
          rows.map(({ eventCreatedAt, eventType, transactionId, ...row }): ClaimedDelivery => ({
            ...row,
            event: eventType === null || eventCreatedAt === null || transactionId === null
              ? null
              : { type: eventType, createdAt: eventCreatedAt, transactionId }
          }))
        )
      )

    /**
     * Records an attempt's outcome, unless the delivery was claimed again since (its lease ran
     * out while this attempt was still going): then the newer attempt decides. A 410 disables
     * the endpoint in the same statement.
     */
    const record = (delivery: ClaimedDelivery, outcome: AttemptOutcome) => {
      const status = outcome._tag === "Delivered" ? "DELIVERED" : outcome._tag === "Retry" ? "PENDING" : "FAILED"
      const error = outcome._tag === "Delivered" ? null : outcome.error?.slice(0, 512) ?? null
      const afterMs = outcome._tag === "Retry" ? outcome.afterMs : 0
      const disable = outcome._tag === "Failed" && outcome.disable
      return sql`
        WITH recorded AS (
          UPDATE webhook_deliveries
             SET status = ${status}, response_status = ${outcome.responseStatus}, error = ${error},
                 next_attempt_at = now() + ${afterMs} * interval '1 millisecond'
           WHERE event_sequence = ${delivery.sequence} AND webhook_id = ${delivery.webhookId} AND attempt = ${delivery.attempt}
        ), disabled AS (
          UPDATE webhooks SET status = 'DISABLED', disabled_at = now()
           WHERE id = ${delivery.webhookId} AND status = 'ACTIVE' AND ${disable}
        )
        SELECT 1`.withoutTransform.pipe(Effect.asVoid)
    }

    return {
      create: (...args: Parameters<typeof create>) => Effect.orDie(create(...args)),
      list: Effect.orDie(list),
      remove: (id: WebhookId) => Effect.orDie(remove(id)),
      exists: (id: WebhookId) => Effect.orDie(exists(id)),
      deliveries: (id: WebhookId, limit: number) => Effect.orDie(deliveries(id, limit)),
      claim: (limit: number, leaseMs: number) => Effect.orDie(claim(limit, leaseMs)),
      record: (delivery: ClaimedDelivery, outcome: AttemptOutcome) => Effect.orDie(record(delivery, outcome))
    } as const
  })
}) {}
