import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { chmod, chown, lstat, mkdir } from "node:fs/promises"
import { basename, dirname, join, resolve } from "node:path"
import { type Binaries, reachableBy } from "./Binaries.ts"
import { describe, errorCode, startError } from "./EmbeddedStartError.ts"
import { canEnter, type RunAs } from "./PostgresUser.ts"

/** Where the server's programs, data folder and password file are for this start. */
export interface Placement {
  readonly binaries: Binaries
  readonly dataDirectory: string
  /** The superuser's password, made at the first start; root's (or the user's) alone, mode 0600. */
  readonly passwordFile: string
}

const remedyFor = (cause: unknown, fallback: string) =>
  errorCode(cause) === "ENOSPC" ? "Free some disk space" : errorCode(cause) === "EROFS" ? "Choose a writable folder" : fallback

/**
 * The folder root keeps copies in (EMBEDDED_PG_ROOT_DIR): made root's and 0755 here, and used only
 * if nobody else can write it, since `postgres` later runs what is inside.
 */
const sharedFolder = (runAs: RunAs, path: string) =>
  Effect.tryPromise({
    try: async () => {
      await mkdir(path, { recursive: true, mode: 0o755 })
      const stat = await lstat(path)
      if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
        throw new Error(`${path} is not a folder that only root can write`)
      }
      await chmod(path, 0o755)
    },
    catch: (cause) =>
      startError(
        `running as root, the folder for what 'postgres' must reach is unusable (${describe(cause)})`,
        remedyFor(cause, "Remove it, or set EMBEDDED_PG_ROOT_DIR to another folder")
      )
  }).pipe(
    Effect.zipRight(canEnter(runAs, path)),
    Effect.filterOrFail((reachable) => reachable, () =>
      startError(
        `running as root, the 'postgres' user cannot enter ${path}`,
        "Set EMBEDDED_PG_ROOT_DIR to a folder below folders that everyone may enter"
      )),
    Effect.as(path)
  )

/** A stable folder per requested data folder, so that data kept as root survives restarts. */
const relocatedDataDirectory = (sharedDirectory: string, requested: string) =>
  join(sharedDirectory, `data-${createHash("sha256").update(requested).digest("hex").slice(0, 12)}`, basename(requested))

/**
 * PostgreSQL wants its data folder to be its own and private (0700). The folder above it stays
 * root's, so the password file beside the data (0600) is root's alone.
 */
const ownedByPostgres = (runAs: Extract<RunAs, { _tag: "Postgres" }>, dataDirectory: string) =>
  Effect.tryPromise({
    try: async () => {
      const parent = dirname(dataDirectory)
      await mkdir(parent, { recursive: true, mode: 0o755 })
      const existing = await lstat(dataDirectory).catch(() => undefined)
      if (existing !== undefined) return
      await mkdir(dataDirectory, { mode: 0o700 })
      await chown(dataDirectory, runAs.uid, runAs.gid)
    },
    catch: (cause) =>
      startError(
        `cannot make its data folder ${dataDirectory} for the 'postgres' user (${describe(cause)})`,
        remedyFor(cause, "Set EMBEDDED_PG_DIR to a folder root can write")
      )
  })

/**
 * Without root, everything stays where it is: the binaries in node_modules, the data in
 * EMBEDDED_PG_DIR. As root, PostgreSQL runs as `postgres`, which cannot enter a folder such as
 * /root (0700): then the binaries are copied to, and the data kept in, EMBEDDED_PG_ROOT_DIR,
 * which is only made when it is needed.
 */
export const place = (options: {
  readonly runAs: RunAs
  readonly binaries: Binaries
  readonly dataDirectory: string
  readonly sharedDirectory: string
}) =>
  Effect.gen(function*() {
    const requested = resolve(options.dataDirectory)
    yield* Effect.tryPromise({
      try: () => mkdir(dirname(requested), { recursive: true }),
      catch: (cause) =>
        startError(
          `cannot make the folder for its data, ${dirname(requested)} (${describe(cause)})`,
          remedyFor(cause, "Set EMBEDDED_PG_DIR to a folder you can write")
        )
    })
    const runAs = options.runAs
    if (runAs._tag === "Self") {
      return { binaries: options.binaries, dataDirectory: requested, passwordFile: `${requested}.password` } satisfies Placement
    }
    const sharedDirectory = yield* Effect.cached(sharedFolder(runAs, options.sharedDirectory))
    const binaries = yield* reachableBy(runAs, options.binaries, sharedDirectory)
    const dataDirectory = (yield* canEnter(runAs, dirname(requested)))
      ? requested
      : relocatedDataDirectory(yield* sharedDirectory, requested)
    yield* ownedByPostgres(runAs, dataDirectory)
    return { binaries, dataDirectory, passwordFile: `${dataDirectory}.password` } satisfies Placement
  })
