import { spawn } from "node:child_process"
import { join } from "node:path"
import { testAdminKey } from "./TestApiKey.ts"

/** The repository these tests run from. */
export const repositoryRoot = join(import.meta.dir, "..", "..")

export interface MainProcess {
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  readonly output: () => string
  /** Its exit code (null when killed by a signal) once it has exited. */
  readonly exited: Promise<number | null>
  readonly kill: (signal: NodeJS.Signals) => void
}

/**
 * `bun run src/main.ts` in its own process, as `npm start` runs it, with only the environment
 * given here (plus PATH, and ADMIN_API_KEY as the test key unless `env` sets it; `""` for none):
 * no DATABASE_URL leaks in from the test run, so the embedded path is taken.
 */
export const startMain = (options: { readonly cwd: string; readonly env: Record<string, string> }): MainProcess => {
  const child = spawn(process.execPath, ["run", "src/main.ts"], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ADMIN_API_KEY: testAdminKey, ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { output: () => output, exited, kill: (signal) => child.kill(signal) }
}

/**
 * Resolves with the exit code, or with "timeout" after `ms`. A process still running then gets
 * SIGTERM, so that it stops its embedded server, and SIGKILL 5 s later.
 */
export const exitWithin = async (main: MainProcess, ms: number) => {
  const timer = Bun.sleep(ms).then(() => "timeout" as const)
  const result = await Promise.race([main.exited, timer])
  if (result === "timeout") {
    main.kill("SIGTERM")
    if ((await Promise.race([main.exited, Bun.sleep(5_000).then(() => "timeout" as const)])) === "timeout") main.kill("SIGKILL")
  }
  return result
}

/** Polls /api/health until it answers 200 or the process exits; returns the last status seen. */
export const healthWithin = async (main: MainProcess, baseUrl: string, ms: number) => {
  let exited = false
  void main.exited.then(() => (exited = true))
  const deadline = Date.now() + ms
  let status: number | "unreachable" = "unreachable"
  while (Date.now() < deadline && !exited) {
    status = await fetch(`${baseUrl}/api/health`).then((r) => r.status, () => "unreachable" as const)
    if (status === 200) return status
    await Bun.sleep(200)
  }
  return status
}

/** The JSON log lines a process printed, each parsed (a line that is not JSON fails the test). */
export const logLines = (output: string) =>
  output.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as Record<string, unknown>)
