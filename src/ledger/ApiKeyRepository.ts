import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ApiKeyId, Scope } from "../domain/ApiKey.ts"

/** A stored key, its hash included: for the in-memory table of the service, never for a response. */
const ApiKeyRow = Schema.Struct({
  id: ApiKeyId,
  name: Schema.String,
  scopes: Schema.Array(Scope),
  keyHash: Schema.Uint8ArrayFromSelf,
  createdAt: Schema.DateFromSelf,
  revokedAt: Schema.NullOr(Schema.DateFromSelf)
})
export type ApiKeyRow = typeof ApiKeyRow.Type

/** Changes with every key added and every key revoked (rows are never deleted or un-revoked). */
const TableVersion = Schema.Struct({ keys: Schema.Number, revoked: Schema.Number })
export type TableVersion = typeof TableVersion.Type

const NewKeyRow = Schema.Struct({
  name: Schema.String,
  scopes: Schema.Array(Scope),
  keyHash: Schema.Uint8ArrayFromSelf
})
export type NewKeyRow = typeof NewKeyRow.Type

/** Any constant will do, as long as every instance uses the same one (the migrator's is 0x64696e6f). */
const firstKeyLockKey = 0x64776b31 // "dwk1"

/** The SQL of the api_keys table. Infrastructure failures become defects here. */
export class ApiKeyRepository extends Effect.Service<ApiKeyRepository>()("ApiKeyRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * The new key, or none when `limit` keys are already in use (not revoked). Two creations at
     * once may both pass the count: the limit bounds the table, it is not exact to the key.
     */
    const insert = SqlSchema.findOne({
      Request: Schema.Struct({ key: NewKeyRow, limit: Schema.Number }),
      Result: ApiKeyRow,
      execute: ({ key, limit }) =>
        sql`
          INSERT INTO api_keys (name, scopes, key_hash)
          SELECT ${key.name}, ${key.scopes}::varchar[], ${key.keyHash}
           WHERE (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) < ${limit}
          RETURNING id, name, scopes, key_hash, created_at, revoked_at`
    })

    /**
     * The first key of an empty table, or none when a key exists. Two processes starting at once
     * on an empty table both see it empty under READ COMMITTED, so the check and the insert run
     * under a transaction-scoped advisory lock: the second waits, then sees the first one's key.
     */
    const insertFirst = (key: NewKeyRow) =>
      SqlSchema.findOne({
        Request: NewKeyRow,
        Result: ApiKeyRow,
        execute: (key) =>
          sql`SELECT pg_advisory_xact_lock(${firstKeyLockKey})`.pipe(
            Effect.zipRight(sql`
              INSERT INTO api_keys (name, scopes, key_hash)
              SELECT ${key.name}, ${key.scopes}::varchar[], ${key.keyHash}
               WHERE NOT EXISTS (SELECT 1 FROM api_keys)
              RETURNING id, name, scopes, key_hash, created_at, revoked_at`)
          )
      })(key).pipe(sql.withTransaction)

    const all = SqlSchema.findAll({
      Request: Schema.Void,
      Result: ApiKeyRow,
      execute: () => sql`SELECT id, name, scopes, key_hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id`
    })

    /** Revokes a key once: revoking it again keeps the first time. None when there is no such key. */
    const revoke = SqlSchema.findOne({
      Request: ApiKeyId,
      Result: ApiKeyRow,
      execute: (id) =>
        sql`
          UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${id}
          RETURNING id, name, scopes, key_hash, created_at, revoked_at`
    })

    const version = SqlSchema.single({
      Request: Schema.Void,
      Result: TableVersion,
      execute: () => sql`SELECT count(*)::int AS keys, count(revoked_at)::int AS revoked FROM api_keys`
    })

    return {
      insert: (key: NewKeyRow, limit: number) => Effect.orDie(insert({ key, limit })),
      insertFirst: (key: NewKeyRow) => Effect.orDie(insertFirst(key)),
      all: Effect.orDie(all(undefined)),
      revoke: (id: ApiKeyId) => Effect.orDie(revoke(id)),
      /** Fails (typed) when the database does not answer: the refresh keeps the last table then. */
      version: version(undefined)
    } as const
  })
}) {}
