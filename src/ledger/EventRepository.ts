import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type { EventId, EventType } from "../domain/Event.ts"
import type { TransactionId } from "../domain/Transaction.ts"

/** An event as the outbox keeps it; its data is read from the ledger (wallet/EventFeed.ts). */
export interface EventRow {
  readonly id: EventId
  readonly sequence: number
  readonly type: EventType
  readonly createdAt: Date
  readonly transactionId: TransactionId
}

/** The channel on which a sequencer says, after its commit, that new events are numbered. */
export const EventsChannel = "dino_wallet_events"

/** What one numbering did: nothing when another process's sequencer held the row. */
export type Numbering =
  | { readonly _tag: "Busy" }
  | { readonly _tag: "Numbered"; readonly count: number; readonly lastSequence: number }

/**
 * The outbox's rows, read and numbered. The rows themselves are written by the batch statement
 * (LedgerRepository.writeBatch), in the transaction of the postings they are about. Columns are
 * named in camelCase here, as in LedgerRepository.
 */
export class EventRepository extends Effect.Service<EventRepository>()("EventRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = yield* PgClient.PgClient

    /**
     * Numbers up to `limit` committed events in insertion order, after the last number given,
     * and adds their webhook deliveries, in one transaction under the sequencer's row lock.
     * SKIP LOCKED: while another process numbers, this one does nothing rather than queue.
     *
     * Two statements, not one: the row is locked first, and only then does the second
     * statement take its snapshot, which sees every number the previous holder committed. In a
     * single statement the snapshot would predate the lock, and an event numbered meanwhile
     * would look unnumbered and be numbered twice.
     */
    const number = (limit: number) =>
      Effect.gen(function*() {
        const [row] = yield* sql<{ lastSequence: number }>`
          SELECT last_sequence AS "lastSequence" FROM event_sequencer FOR UPDATE SKIP LOCKED`.withoutTransform
        if (row === undefined) return { _tag: "Busy" } as const
        const [result] = yield* sql<{ count: number; lastSequence: number }>`
          WITH next AS (
            SELECT e.id, e.type, ${row.lastSequence}::bigint + row_number() OVER (ORDER BY e.position) AS sequence
              FROM (SELECT id, type, position FROM events WHERE sequence IS NULL ORDER BY position LIMIT ${limit}) e
          ), numbered AS (
            UPDATE events SET sequence = next.sequence FROM next WHERE events.id = next.id
          ), moved AS (
            UPDATE event_sequencer SET last_sequence = (SELECT max(sequence) FROM next) WHERE EXISTS (SELECT 1 FROM next)
          ), fanned AS (
            INSERT INTO webhook_deliveries (event_sequence, webhook_id, event_id)
            SELECT next.sequence, w.id, next.id
              FROM next JOIN webhooks w ON w.status = 'ACTIVE' AND (w.event_types IS NULL OR next.type = ANY(w.event_types))
          )
          SELECT count(*)::int AS count, coalesce(max(sequence), ${row.lastSequence}::bigint) AS "lastSequence" FROM next`
          .withoutTransform
        // Delivered to every listener when this transaction commits, never before.
        if (result!.count > 0) yield* sql`SELECT pg_notify(${EventsChannel}, ${String(result!.lastSequence)})`.withoutTransform
        return { _tag: "Numbered", count: result!.count, lastSequence: result!.lastSequence } as const
      }).pipe(sql.withTransaction)

    /** Numbered events after `after`, in sequence order; `types` undefined for every type. */
    const after = (after: number, types: ReadonlyArray<EventType> | undefined, limit: number) =>
      sql<EventRow>`
        SELECT id, sequence, type, created_at AS "createdAt", transaction_id AS "transactionId"
          FROM events
         WHERE ${sql.and([sql`sequence > ${after}`, types === undefined ? sql`TRUE` : sql`type = ANY(${types}::varchar[])`])}
         ORDER BY sequence
         LIMIT ${limit}`.withoutTransform

    /**
     * Deletes up to `limit` of the oldest numbered events created before `cutoff`, with their
     * webhook deliveries. Unnumbered events are never pruned: the feed has not shown them yet.
     */
    const prune = (cutoff: Date, limit: number) =>
      sql<{ deleted: number }>`
        WITH old AS (
          SELECT id FROM events
           WHERE sequence IS NOT NULL AND created_at < ${cutoff}
           ORDER BY sequence
           LIMIT ${limit}
           FOR UPDATE SKIP LOCKED
        ), pruned AS (
          DELETE FROM events WHERE id IN (SELECT id FROM old) RETURNING sequence
        ), deliveries AS (
          DELETE FROM webhook_deliveries WHERE event_sequence IN (SELECT sequence FROM pruned)
        )
        SELECT count(*)::int AS deleted FROM pruned`.withoutTransform.pipe(Effect.map((rows) => rows[0]?.deleted ?? 0))

    /**
     * Where a relay stands, locked for the caller's transaction (SKIP LOCKED: none while another
     * process relays). The row is made on first use.
     */
    const lockRelay = (name: string) =>
      Effect.zipRight(
        sql`INSERT INTO event_relays (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING`.withoutTransform,
        sql<{ lastSequence: number }>`
          SELECT last_sequence AS "lastSequence" FROM event_relays WHERE name = ${name} FOR UPDATE SKIP LOCKED`.withoutTransform
      ).pipe(Effect.map((rows) => rows[0]?.lastSequence))

    const moveRelay = (name: string, lastSequence: number) =>
      sql`UPDATE event_relays SET last_sequence = ${lastSequence}, updated_at = now() WHERE name = ${name}`.withoutTransform.pipe(
        Effect.asVoid
      )

    return {
      number: (limit: number) => Effect.orDie(number(limit)),
      after: (from: number, types: ReadonlyArray<EventType> | undefined, limit: number) => Effect.orDie(after(from, types, limit)),
      prune,
      lockRelay: (name: string) => Effect.orDie(lockRelay(name)),
      moveRelay: (name: string, lastSequence: number) => Effect.orDie(moveRelay(name, lastSequence)),
      /** Every notification on EventsChannel; fails when the listening connection is lost. */
      listen: pg.listen(EventsChannel)
    } as const
  })
}) {}
