import { type ChildProcess, spawn } from "node:child_process"
import http from "node:http"
import { join } from "node:path"
import { freePort } from "./Database.ts"
import { testAdminKey } from "./TestApiKey.ts"

/**
 * The service as `npm start` runs it, in a process of its own, for the suites that need what
 * only a process has: a SIGTERM, or two services on one database.
 */
export interface ServiceProcess {
  readonly baseUrl: string
  readonly child: ChildProcess
  /** The exit code, once the process has exited (null if a signal ended it). */
  readonly exited: Promise<number | null>
  /** SIGKILL if still running; for cleanup after a failed test, never for the test itself. */
  readonly kill: () => Promise<void>
}

const root = join(import.meta.dir, "..", "..")

/**
 * Starts the service on a free port over `databaseUrl` and waits until /api/health answers 200.
 * ADMIN_API_KEY is the test key (which `request` sends) unless `env` says otherwise.
 * Another process on the machine may take the port between freePort and the service's bind;
 * then it starts again on another port, and only then.
 */
export const startServiceProcess = async (
  databaseUrl: string,
  env: Record<string, string> = {}
): Promise<ServiceProcess> => {
  for (let attempt = 1;; attempt++) {
    try {
      return await startOnce(databaseUrl, env)
    } catch (error) {
      if (attempt === 3 || !(error instanceof PortTaken)) throw error
    }
  }
}

class PortTaken extends Error {}

const startOnce = async (databaseUrl: string, env: Record<string, string>): Promise<ServiceProcess> => {
  const port = await freePort()
  const child = spawn(join(root, "node_modules", ".bin", "bun"), ["run", "src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      ADMIN_API_KEY: testAdminKey,
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  // The last lines the process wrote, to explain a failed start.
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4_000)
  }
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code
      resolve(code)
    })
  )
  const kill = async () => {
    if (exitCode !== undefined) return
    child.kill("SIGKILL")
    await exited
  }
  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  while (true) {
    const health = await request(baseUrl, "GET", "/api/health", undefined, 1_000)
    if (health._tag === "Answered" && health.status === 200) return { baseUrl, child, exited, kill }
    if (exitCode !== undefined || Date.now() > deadline) {
      await kill()
      if (/EADDRINUSE|address already in use/i.test(output)) throw new PortTaken(`Port ${port} was taken`)
      throw new Error(`The service on port ${port} did not become healthy (exit code ${exitCode}):\n${output}`)
    }
    await Bun.sleep(100)
  }
}

/** An HTTP answer, or why there was none: a refused or reset connection, or no answer in time. */
export type HttpOutcome =
  | {
    readonly _tag: "Answered"
    readonly status: number
    readonly headers: http.IncomingHttpHeaders
    readonly body: unknown
  }
  | { readonly _tag: "NoAnswer"; readonly reason: string }

/**
 * One request on a connection of its own. Bun's fetch opens at most 256 connections at a time
 * and queues the rest in the client, so a burst of blocked writes larger than that would never
 * reach the server; node:http without an agent has no such limit. It sends the test admin key,
 * or `options.apiKey` (null: no Authorization header).
 */
export const request = (
  baseUrl: string,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
  timeoutMs = 20_000,
  options: { readonly apiKey?: string | null } = {}
): Promise<HttpOutcome> =>
  new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const apiKey = options.apiKey === undefined ? testAdminKey : options.apiKey
    const req = http.request(baseUrl + path, {
      method,
      agent: false,
      headers: {
        ...(payload === undefined ? {} : { "content-type": "application/json" }),
        ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` })
      }
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let parsed: unknown
        try {
          parsed = text === "" ? undefined : JSON.parse(text)
        } catch {
          parsed = text
        }
        resolve({ _tag: "Answered", status: res.statusCode!, headers: res.headers, body: parsed })
      })
      res.on("error", (error) => resolve({ _tag: "NoAnswer", reason: String(error) }))
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ _tag: "NoAnswer", reason: error.code ?? error.message }))
    req.end(payload)
  })

/** Options of a single request: the key to send (null: none), and how long to wait for its answer. */
export interface PostOptions {
  readonly apiKey?: string | null
  readonly timeoutMs?: number
}

export const post = (baseUrl: string, path: string, body: unknown, options: PostOptions = {}) =>
  request(baseUrl, "POST", path, body, options.timeoutMs, options)

export type WriteType = "TOPUP" | "BONUS" | "SPEND"

/** A single write as the tests send it: its endpoint is its type's. */
export interface Write {
  readonly type: WriteType
  readonly userId: number
  readonly assetCode: string
  readonly amount: number
  readonly idempotencyKey: string
  /** Sent only when given; the fault suites put the key here, so the ledger names each write's key. */
  readonly description?: string
}

const pathOf: Record<WriteType, string> = {
  TOPUP: "/api/wallets/topup",
  BONUS: "/api/wallets/bonus",
  SPEND: "/api/wallets/spend"
}

export const postWrite = (baseUrl: string, write: Write, options: PostOptions = {}) =>
  post(baseUrl, pathOf[write.type], {
    userId: write.userId,
    assetCode: write.assetCode,
    amount: write.amount,
    idempotencyKey: write.idempotencyKey,
    ...(write.description === undefined ? {} : { description: write.description })
  }, options)
