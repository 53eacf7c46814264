import * as PgClient from "@effect/sql-pg/PgClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Str from "effect/String"
import { readdir, readFile } from "node:fs/promises"
import { Socket } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"

/** Where the database is. Production sets DATABASE_URL; otherwise an embedded server is started. */
export class DatabaseUrl extends Context.Tag("DatabaseUrl")<DatabaseUrl, Redacted.Redacted>() {}

/**
 * A whole number of at least 1: pg reads 0 as "no limit" for its timeouts (and a pool of 0
 * never hands out a connection), so a typo must stop the start-up, not lift a limit.
 */
const positiveInteger = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "Expected an integer of at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(fallback)
  )

/**
 * The client-side bound on a connection in use, DATABASE_QUERY_TIMEOUT_MS: by default a second
 * above the statement timeout, so that a statement the server cancels itself (a clean 57014)
 * is never cut short here first.
 */
const queryTimeout = Config.all({
  statementTimeoutMs: positiveInteger("DATABASE_STATEMENT_TIMEOUT_MS", 5_000),
  queryTimeoutMs: Config.option(Config.integer("DATABASE_QUERY_TIMEOUT_MS"))
}).pipe(
  Config.map(({ queryTimeoutMs, statementTimeoutMs }) => ({
    statementTimeoutMs,
    queryTimeoutMs: Option.getOrElse(queryTimeoutMs, () => statementTimeoutMs + 1_000)
  })),
  Config.validate({
    message: "DATABASE_QUERY_TIMEOUT_MS must be an integer above DATABASE_STATEMENT_TIMEOUT_MS",
    validation: ({ queryTimeoutMs, statementTimeoutMs }) => Number.isInteger(queryTimeoutMs) && queryTimeoutMs > statementTimeoutMs
  })
)

export const PoolConfig = Config.all({
  maxConnections: positiveInteger("DATABASE_POOL_SIZE", 10),
  timeouts: queryTimeout,
  connectTimeoutMs: positiveInteger("DATABASE_CONNECT_TIMEOUT_MS", 5_000),
  idleTimeoutMs: positiveInteger("DATABASE_IDLE_TIMEOUT_MS", 30_000)
})

/**
 * TCP keepalive probes start after a connection has been idle this long, so that a peer gone
 * without a word (a failover, a NAT entry dropped) is noticed on idle pooled connections too.
 */
export const KeepAliveInitialDelayMs = 10_000

/**
 * int8 arrives from pg as a string. Every int8 the schema holds (ids, amounts, balances,
 * counts) is CHECKed to lie within 2^53 - 1, so reading it as a number is exact.
 */
const parseInt8 = (value: string): number => Number(value)

/** The error a connection silent past its bound is closed with: an outage (ETIMEDOUT), a 503. */
const silentConnection = (boundMs: number) =>
  Object.assign(
    new Error(`The database sent nothing for ${boundMs} ms on a connection in use (DATABASE_QUERY_TIMEOUT_MS); closing it`),
    { code: "ETIMEDOUT" }
  )

/**
 * A connection handed out by the pool may stay silent at most `boundMs`; then it is closed.
 *
 * The statement timeout is the server's: a connection that goes silent (a failover, a dropped
 * NAT entry) waits for an answer until the kernel gives up, minutes later, and the committer's
 * one writer with it, so every write of the process. pg's own query_timeout fails the statement
 * but leaves its connection waiting for the answer, with the transaction's ROLLBACK queued
 * behind it, and the pool takes it back as it is. Closing the socket instead fails what is in
 * flight and queued on it at once (an ETIMEDOUT, a 503 to every request of the batch), marks the
 * client broken so that the pool discards it, and the next statement opens a new connection.
 *
 * The bound is the socket's idle timeout, armed only while the connection is handed out: an idle
 * pooled connection is left to TCP keepalive. Between statements of a transaction the service
 * computes for milliseconds, far inside the bound.
 */
const boundSilence = (pool: pg.Pool, boundMs: number) => {
  const socketOf = (client: pg.PoolClient) => client.connection.stream instanceof Socket ? client.connection.stream : undefined
  pool.on("connect", (client) => {
    // The client re-emits its socket's error; with no listener of its own, one emitted while
    // the client is handed out to a caller that listens for none would end the process.
    client.on("error", () => {})
    const socket = socketOf(client)
    socket?.on("timeout", () => socket.destroy(silentConnection(boundMs)))
  })
  pool.on("acquire", (client) => void socketOf(client)?.setTimeout(boundMs))
  pool.on("release", (_error, client) => void socketOf(client)?.setTimeout(0))
}

interface PoolShape {
  readonly maxConnections: number
  /** How long a connection in use may stay silent; undefined: as long as its statements take. */
  readonly silenceBoundMs: number | undefined
}

const pgLayer = (shape: (config: Config.Config.Success<typeof PoolConfig>) => PoolShape) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const url = yield* DatabaseUrl
      const config = yield* PoolConfig
      const { maxConnections, silenceBoundMs } = shape(config)
      const acquire = Effect.acquireRelease(
        Effect.sync(() => {
          const pool = new pg.Pool({
            connectionString: Redacted.value(url),
            max: maxConnections,
            connectionTimeoutMillis: config.connectTimeoutMs,
            idleTimeoutMillis: config.idleTimeoutMs,
            statement_timeout: config.timeouts.statementTimeoutMs,
            keepAlive: true,
            keepAliveInitialDelayMillis: KeepAliveInitialDelayMs,
            application_name: "dino-wallet",
            types: {
              getTypeParser: ((oid: number, format?: "text" | "binary") =>
                oid === pg.types.builtins.INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser
            }
          })
          // An idle connection that the server drops emits "error" on the pool; without a
          // listener the process would exit. The next query simply opens a new connection.
          pool.on("error", () => {})
          if (silenceBoundMs !== undefined) boundSilence(pool, silenceBoundMs)
          return pool
        }),
        (pool) => Effect.promise(() => pool.end())
      )
      return PgClient.layerFromPool({
        acquire,
        applicationName: "dino-wallet",
        // For statements written elsewhere (migrations, tests): the ledger's own statements name
        // their columns in camelCase and skip both transforms, which cost CPU on every row.
        transformResultNames: Str.snakeToCamel,
        transformQueryNames: Str.camelToSnake,
        // Stored response bodies are json whose keys (`_tag`, camelCase) must come back as written.
        transformJson: false
      })
    })
  )

/**
 * The service's pool. It is built by hand because @effect/sql-pg 0.53 has no statement timeout
 * option, and a query without one can hold wallet locks forever; every connection in use is
 * bounded by DATABASE_QUERY_TIMEOUT_MS on this side too (boundSilence).
 */
export const PgLive = pgLayer((config) => ({
  maxConnections: config.maxConnections,
  silenceBoundMs: config.timeouts.queryTimeoutMs
}))

/**
 * A small pool for the statements allowed to outlast the statement timeout, which lift it with
 * SET LOCAL: migrations, and reconciliation under RECONCILIATION_TIMEOUT (`boundMs` a little
 * above it). Such a statement is silent for as long as it runs, so the service's bound would cut it.
 */
export const pgLiveForLongStatements = (maxConnections: number, boundMs?: number) =>
  pgLayer(() => ({ maxConnections, silenceBoundMs: boundMs }))

const migrationsDirectory = fileURLToPath(new URL("../migrations", import.meta.url))

/**
 * Migrations are plain `NNNN_name.sql` files, read at start-up. The migrator applies the
 * pending ones in one transaction under a table lock, so concurrent starts are safe.
 */
const sqlFiles = (directory: string): Migrator.Loader =>
  Effect.tryPromise({
    try: async () => {
      const names = (await readdir(directory)).filter((name) => /^\d+_[a-z0-9_]+\.sql$/.test(name))
      return Promise.all(
        names.map(async (name) => [name.replace(/\.sql$/, ""), await readFile(join(directory, name), "utf8")] as const)
      )
    },
    catch: (cause) =>
      new Migrator.MigrationError({ reason: "import-error", message: `Cannot read migrations in ${directory}`, cause })
  }).pipe(
    Effect.flatMap((files) =>
      Migrator.fromRecord(
        Object.fromEntries(
          files.map(([name, text]) => [
            name,
            // The request-sized statement timeout would cut a long migration short; inside the
            // migrator's transaction, SET LOCAL lifts it for the migrations only.
            Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SET LOCAL statement_timeout = 0`.pipe(Effect.zipRight(sql.unsafe(text))))
          ])
        )
      )
    )
  )

/** Any constant will do, as long as every instance of the service uses the same one. */
const migrationLockKey = 0x64696e6f // "dino"

/**
 * The migrator creates its table with CREATE TABLE IF NOT EXISTS before it takes its table lock,
 * and two processes doing that at once on a fresh database collide in PostgreSQL's catalog
 * (duplicate pg_type entry). So each run holds an advisory lock, taken and released on one
 * reserved connection (it is the session's), and instances that start together migrate one
 * after the other.
 */
const migrateAlone = <A, E, R>(migration: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.scoped(
      Effect.acquireRelease(
        Effect.tap(sql.reserve, (connection) => connection.executeRaw("SELECT pg_advisory_lock($1)", [migrationLockKey])),
        (connection) => Effect.orDie(connection.executeRaw("SELECT pg_advisory_unlock($1)", [migrationLockKey]))
      ).pipe(Effect.zipRight(migration))
    ))

/**
 * The migrator applies only files numbered above the newest one applied, so a file numbered
 * below it (one merged after a later-numbered file already ran on this database) would be
 * skipped for good without a word. After migrating, every file must be in the table; one that
 * is not stops the start-up, saying which and what to do.
 */
const checkNoneSkipped = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const files = yield* Effect.tryPromise({
    try: () => readdir(migrationsDirectory),
    catch: (cause) =>
      new Migrator.MigrationError({ reason: "import-error", message: `Cannot read migrations in ${migrationsDirectory}`, cause })
  })
  const applied = new Set(
    (yield* sql<{ migrationId: number }>`SELECT migration_id FROM schema_migrations`).map((row) => row.migrationId)
  )
  const skipped = files.flatMap((name) => {
    const id = /^(\d+)_[a-z0-9_]+\.sql$/.exec(name)?.[1]
    return id !== undefined && !applied.has(Number(id)) ? [name] : []
  })
  if (skipped.length > 0) {
    return yield* new Migrator.MigrationError({
      reason: "bad-state",
      message: `Migrations ${skipped.join(", ")} are numbered below one this database has already applied, ` +
        "so they would never run: renumber them above the newest applied migration"
    })
  }
})

export const migrate = Migrator.make({})({ loader: sqlFiles(migrationsDirectory), table: "schema_migrations" }).pipe(
  Effect.zipLeft(checkNoneSkipped),
  migrateAlone,
  Effect.tap((applied) =>
    applied.length === 0
      ? Effect.logInfo("Database schema is up to date")
      : Effect.logInfo("Applied migrations").pipe(
        Effect.annotateLogs("migrations", applied.map(([id, name]) => `${String(id).padStart(4, "0")}_${name}`))
      )
  ),
  Effect.withSpan("Sql.migrate")
)

/**
 * Migrations run on a pool of their own, closed once they are applied: a migration may run for
 * minutes, silent, and one process may wait as long on another's advisory lock.
 */
export const MigratorLive = Layer.effectDiscard(Effect.provide(migrate, pgLiveForLongStatements(2)))

/** The SqlClient with the schema migrated, for everything that reads or writes the ledger. */
export const SqlLive = Layer.provideMerge(MigratorLive, PgLive)
