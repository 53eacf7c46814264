import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Binaries } from "./Binaries.ts"
import { describe, type EmbeddedStartError, errorCode, oneLine, startError } from "./EmbeddedStartError.ts"
import { type RunAs, spawnIdentity } from "./PostgresUser.ts"

/** initdb writes a few MB and runs a bootstrap backend: seconds, even on a slow disk. */
const initdbTimeout = Duration.seconds(60)
/** Recovery after a crash can replay WAL, but a server that is not ready by then never will be. */
const readyTimeout = Duration.seconds(30)

/** Messages in English, whatever the user's locale, because readiness is read from them. */
const environment = { ...process.env, LC_MESSAGES: "C" }

/** The lines worth showing from a PostgreSQL program's output: its errors, else its last line. */
const lastError = (output: string) => {
  const lines = output.split("\n").map(oneLine).filter((line) => line !== "")
  const errors = lines.filter((line) => /\b(FATAL|PANIC|ERROR|error):/.test(line))
  return (errors.length > 0 ? errors.slice(-2) : lines.slice(-1)).join(" ") || "no output"
}

/** What a failed PostgreSQL program said, as a cause and what to do about it. */
const explain = (program: string, output: string, dataDirectory: string, port: number): EmbeddedStartError => {
  const said = lastError(output)
  if (/Address already in use|could not bind|could not create any TCP\/IP sockets|lock file .*already exists/i.test(output)) {
    return startError(`port ${port} on 127.0.0.1 is in use (${said})`, "Stop what listens there or set EMBEDDED_PG_PORT to a free port")
  }
  if (/No space left on device/i.test(output)) {
    return startError(`the disk is full (${said})`, `Free some disk space where ${dataDirectory} is`)
  }
  if (/Permission denied|wrong ownership|invalid permissions/i.test(output)) {
    return startError(`${program} cannot use ${dataDirectory} (${said})`, "Fix the folder's owner and mode (0700), or set EMBEDDED_PG_DIR to another folder")
  }
  return startError(`${program} failed (${said})`, `Check ${dataDirectory} (delete it to start over with an empty database)`)
}

const spawnFailed = (program: string, cause: unknown) =>
  startError(
    `cannot run ${program} (${describe(cause)})`,
    errorCode(cause) === "EACCES"
      ? "Make the file executable by the user that runs PostgreSQL (as root: 'postgres')"
      : "Run npm ci again to reinstall the PostgreSQL binaries"
  )

/**
 * Every listener is attached before the first event can arrive, "error" included: without one, a
 * failed spawn (EACCES) is thrown from inside child_process, the "close" that would have
 * rejected never comes, and a caller waits forever (what `bun test` did).
 */
const spawnWatched = (file: string, args: ReadonlyArray<string>, runAs: RunAs) =>
  spawn(file, args, { ...spawnIdentity(runAs), env: environment, stdio: ["ignore", "pipe", "pipe"] })

/** The port must be free before the server is tried on it, for a clear error rather than a race. */
export const checkPortFree = (port: number) =>
  Effect.async<void, EmbeddedStartError>((resume) => {
    const probe = createServer()
    probe.once("error", (cause) =>
      resume(
        errorCode(cause) === "EADDRINUSE"
          ? Effect.fail(startError(`port ${port} on 127.0.0.1 is in use`, "Stop what listens there or set EMBEDDED_PG_PORT to a free port"))
          : Effect.fail(startError(`cannot listen on 127.0.0.1:${port} (${describe(cause)})`, "Set EMBEDDED_PG_PORT to a free port above 1024"))
      ))
    probe.listen({ port, host: "127.0.0.1", exclusive: true }, () => probe.close(() => resume(Effect.void)))
  })

/**
 * Creates the cluster with a superuser `postgres` and password authentication. The password
 * reaches initdb through a file in a private temporary folder, owned by the user initdb runs as.
 */
export const initdb = (options: {
  readonly binaries: Binaries
  readonly runAs: RunAs
  readonly dataDirectory: string
  readonly password: string
  readonly port: number
}) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        const folder = await mkdtemp(join(tmpdir(), "dino-wallet-initdb-"))
        const file = join(folder, "password")
        await writeFile(file, options.password + "\n", { mode: 0o600 })
        if (options.runAs._tag === "Postgres") {
          await chown(folder, options.runAs.uid, options.runAs.gid)
          await chown(file, options.runAs.uid, options.runAs.gid)
        }
        return { folder, file }
      },
      catch: (cause) => startError(`cannot write a temporary password file in ${tmpdir()} (${describe(cause)})`, "Free some disk space in it")
    }),
    ({ file }) =>
      Effect.async<void, EmbeddedStartError>((resume) => {
        const child = spawnWatched(options.binaries.initdb, [
          `--pgdata=${options.dataDirectory}`,
          "--auth=password",
          "--username=postgres",
          `--pwfile=${file}`,
          "--lc-messages=C"
        ], options.runAs)
        let output = ""
        child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
        child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
        child.once("error", (cause) => resume(Effect.fail(spawnFailed(options.binaries.initdb, cause))))
        child.once("close", (code) =>
          resume(code === 0 ? Effect.void : Effect.fail(explain("initdb", output, options.dataDirectory, options.port))))
        return Effect.sync(() => child.kill("SIGKILL"))
      }).pipe(
        Effect.timeoutFail({
          duration: initdbTimeout,
          onTimeout: () => startError(`initdb did not finish within ${Duration.format(initdbTimeout)}`, "Check the disk")
        })
      ),
    ({ folder }) => Effect.promise(() => rm(folder, { recursive: true, force: true }))
  )

/** Fast shutdown: open sessions are cut, the data is consistent. */
const stop = (server: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (server.exitCode !== null || server.signalCode !== null) return resume(Effect.void)
    server.once("exit", () => resume(Effect.void))
    server.kill("SIGINT")
  })

/**
 * Runs the server until the scope closes. Ready means PostgreSQL said so; exiting before that,
 * failing to spawn or taking too long is an EmbeddedStartError with what it printed.
 */
export const run = (options: {
  readonly binaries: Binaries
  readonly runAs: RunAs
  readonly dataDirectory: string
  readonly port: number
}) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess, EmbeddedStartError>((resume) => {
      const server = spawnWatched(options.binaries.postgres, [
        "-D",
        options.dataDirectory,
        "-p",
        String(options.port),
        "-c",
        "listen_addresses=127.0.0.1"
      ], options.runAs)
      let output = ""
      let ready = false
      // The output is read for as long as the server runs: a full pipe would block its logging.
      server.stdout?.on("data", () => {})
      server.stderr?.on("data", (chunk: Buffer) => {
        if (ready) return
        output += chunk.toString("utf8")
        if (output.includes("database system is ready to accept connections")) {
          ready = true
          resume(Effect.succeed(server))
        }
      })
      server.once("error", (cause) => resume(Effect.fail(spawnFailed(options.binaries.postgres, cause))))
      server.once("close", () => {
        if (!ready) resume(Effect.fail(explain("postgres", output, options.dataDirectory, options.port)))
      })
      return Effect.sync(() => server.kill("SIGINT"))
    }).pipe(
      Effect.timeoutFail({
        duration: readyTimeout,
        onTimeout: () =>
          startError(`postgres was not ready within ${Duration.format(readyTimeout)}`, `Check ${options.dataDirectory} and the disk`)
      })
    ),
    stop
  ).pipe(
    // Should this process die without closing its scope, the server must not outlive it.
    Effect.tap((server) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const onExit = () => server.kill("SIGINT")
          process.once("exit", onExit)
          return onExit
        }),
        (onExit) => Effect.sync(() => process.removeListener("exit", onExit))
      )
    )
  )
