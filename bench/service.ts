import { spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"

/**
 * The service under load, started as its own process exactly as `npm start` does, over a fresh
 * database: a new database on BENCH_DATABASE_URL's server, or an embedded PostgreSQL in a
 * temporary folder. Everything it creates is removed by `stop`.
 */
export interface BenchService {
  readonly baseUrl: string
  /** The service's ADMIN_API_KEY, which every request of the bench sends as its bearer token. */
  readonly apiKey: string
  readonly databaseUrl: string
  readonly pid: number
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const adminQuery = async (serverUrl: string, text: string) => {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

const waitForHealth = async (baseUrl: string, child: ChildProcess, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`)
    const healthy = await fetch(`${baseUrl}/api/health`).then((r) => r.ok, () => false)
    if (healthy) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`the service was not healthy within ${timeoutMs} ms`)
}

/** Where the service runs from, and how Bun is started. */
export interface StartOptions {
  /** The checkout whose `src/main.ts` runs (another revision for a baseline); default this one. */
  readonly checkout?: string | undefined
  /** Bun options before `run`, such as `--cpu-prof` for a profile. */
  readonly bunArgs?: ReadonlyArray<string>
}

const thisCheckout = join(import.meta.dir, "..")

/**
 * Starts the service with the bench's environment plus `overrides`, where an undefined value
 * removes the variable so the service's own default applies.
 */
export const startService = async (
  overrides: Readonly<Record<string, string | undefined>> = {},
  options: StartOptions = {}
): Promise<BenchService> => {
  const checkout = options.checkout ?? thisCheckout
  const port = await freePort()
  const cleanups: Array<() => Promise<void>> = []
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries({ ...process.env, ...overrides })) {
    if (value !== undefined) env[name] = value
  }
  Object.assign(env, { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" })
  // Every request is authenticated, as in production; the key is this run's own.
  const apiKey = env.ADMIN_API_KEY ?? `dwk_bench_${randomBytes(32).toString("base64url")}`
  env.ADMIN_API_KEY = apiKey
  // The heap setting `npm start` and the Docker image give the service, unless the bench's
  // environment chooses another (see the README's configuration table).
  env.BUN_JSC_forceRAMSize ??= "268435456"
  // The embedded server's password exists only once the service has initialised it.
  let databaseUrl: () => Promise<string>
  const serverUrl = process.env.BENCH_DATABASE_URL
  if (serverUrl !== undefined && serverUrl !== "") {
    const name = `dino_bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`
    await adminQuery(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`)
    cleanups.push(() => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`))
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    env.DATABASE_URL = url.toString()
    databaseUrl = () => Promise.resolve(url.toString())
  } else {
    delete env.DATABASE_URL
    const folder = await mkdtemp(join(tmpdir(), "dino-bench-"))
    cleanups.push(() => rm(folder, { recursive: true, force: true }))
    // As root the embedded server runs as `postgres`, which must be able to enter the folder.
    await chmod(folder, 0o755)
    const dataDirectory = join(folder, "postgres")
    const pgPort = await freePort()
    env.EMBEDDED_PG_DIR = dataDirectory
    env.EMBEDDED_PG_PORT = String(pgPort)
    databaseUrl = async () => {
      const password = (await readFile(`${dataDirectory}.password`, "utf8")).trim()
      return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`
    }
  }
  // The same Bun for every checkout, so a baseline differs from this one by its code only.
  const child = spawn(join(thisCheckout, "node_modules", ".bin", "bun"), [...(options.bunArgs ?? []), "run", "src/main.ts"], {
    cwd: checkout,
    env,
    stdio: ["ignore", "ignore", "inherit"]
  })
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      await exited
    }
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
  try {
    const baseUrl = `http://127.0.0.1:${port}`
    await waitForHealth(baseUrl, child, 60_000)
    return { baseUrl, apiKey, databaseUrl: await databaseUrl(), pid: child.pid!, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
