import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { describe, type EmbeddedStartError, startError } from "./EmbeddedStartError.ts"

/**
 * Who runs initdb and postgres. PostgreSQL refuses to run as root, so as root both run as the
 * `postgres` system user (created when missing); any other user runs them as itself.
 */
export type RunAs =
  | { readonly _tag: "Self" }
  | { readonly _tag: "Postgres"; readonly uid: number; readonly gid: number }

export const isRoot = () => process.getuid?.() === 0

/** The options for child_process.spawn/execFile that run a program as that user. */
export const spawnIdentity = (runAs: RunAs): { uid?: number; gid?: number } =>
  runAs._tag === "Self" ? {} : { uid: runAs.uid, gid: runAs.gid }

/** Runs a short command and resolves with its exit status (spawn failures count as failure). */
const run = (file: string, args: ReadonlyArray<string>, identity: { uid?: number; gid?: number } = {}) =>
  Effect.async<{ readonly ok: boolean; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(file, args, { ...identity, timeout: 10_000 }, (error, stdout, stderr) =>
      resume(Effect.succeed({ ok: error === null, stdout: String(stdout), stderr: String(stderr) })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const lookUp = Effect.gen(function*() {
  const uid = yield* run("id", ["-u", "postgres"])
  const gid = yield* run("id", ["-g", "postgres"])
  return uid.ok && gid.ok ? { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) } : undefined
})

/** The user to run PostgreSQL as; as root, the `postgres` system user, created on first use. */
export const resolveRunAs: Effect.Effect<RunAs, EmbeddedStartError> = Effect.gen(function*() {
  if (!isRoot()) return { _tag: "Self" } as const
  const existing = yield* lookUp
  if (existing !== undefined) return { _tag: "Postgres", ...existing } as const
  // A system account without a home or a login shell: it only ever runs the database.
  yield* run("groupadd", ["--system", "postgres"])
  const created = yield* run("useradd", ["--system", "--gid", "postgres", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"])
  const ids = yield* lookUp
  if (ids === undefined) {
    return yield* startError(
      `running as root, and the 'postgres' user to run it as could not be created (${describe(created.stderr || "useradd failed")})`,
      "Create a 'postgres' user (useradd --system postgres), run as another user"
    )
  }
  return { _tag: "Postgres", ...ids } as const
})

/**
 * Whether the user can execute a program: the real test, since it needs every folder above the
 * file to be searchable, the file to be executable and its libraries to load.
 */
export const canExecute = (runAs: RunAs, file: string, args: ReadonlyArray<string>) =>
  Effect.map(run(file, args, spawnIdentity(runAs)), (result) => result.ok)

/** Whether the user can enter a folder (search permission on it and on every folder above it). */
export const canEnter = (runAs: RunAs, folder: string) =>
  Effect.map(run("test", ["-x", folder], spawnIdentity(runAs)), (result) => result.ok)
