import { afterAll, beforeAll, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { existsSync } from "node:fs"
import { DatabaseUrl } from "../../src/Sql.ts"
import { freePort, FreshDatabaseLive } from "../support/Database.ts"
import { exitWithin, healthWithin, logLines, repositoryRoot, startMain } from "../support/MainProcess.ts"
import { withTestKey } from "../support/TestApiKey.ts"

/**
 * WORKERS=2: the first process starts a second on the same port (reusePort), both serve, a
 * worker that dies is started again, and SIGTERM to the first stops both, cleanly.
 */

const database = ManagedRuntime.make(Layer.fresh(FreshDatabaseLive))
let databaseUrl: string
beforeAll(async () => {
  databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
})
afterAll(() => database.dispose())

const annotations = (line: Record<string, unknown>) => (line.annotations ?? {}) as Record<string, unknown>

test("two processes share the port; a killed worker is started again; SIGTERM stops both", async () => {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const main = startMain({
    cwd: repositoryRoot,
    env: { DATABASE_URL: databaseUrl, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", WORKERS: "2" }
  })
  const lines = () => logLines(main.output())
  const workerPids = () =>
    lines().filter((line) => line.message === "Worker started").map((line) => Number(annotations(line).pid))
  /** The processes that served `count` balance reads, each on a connection of its own. */
  const servedBy = async (count: number) => {
    const ids = Array.from({ length: count }, (_, i) => `workers-${Date.now()}-${i}`)
    for (const id of ids) {
      const response = await fetch(`${baseUrl}/api/wallets/2/balance`, {
        headers: withTestKey({ "x-request-id": id }),
        keepalive: false
      })
      expect(response.status).toBe(200)
    }
    const wanted = new Set(ids)
    const requestLines = lines().filter((line) => line.message === "request" && wanted.has(String(annotations(line).requestId)))
    expect(requestLines.length).toBe(count)
    return new Set(requestLines.map((line) => Number(annotations(line).pid)))
  }
  const waitFor = async (condition: () => boolean, ms: number) => {
    const deadline = Date.now() + ms
    while (!condition() && Date.now() < deadline) await Bun.sleep(100)
    return condition()
  }
  const listening = () => lines().filter((line) => String(line.message).startsWith("Listening on")).length

  try {
    expect(await healthWithin(main, baseUrl, 30_000)).toBe(200)
    expect(await waitFor(() => workerPids().length === 1 && listening() === 2, 30_000)).toBe(true)
    const first = workerPids()[0]!
    // Connections are spread by the kernel: 60 fresh ones all landing on one process would be a 2^-59 chance.
    const before = await servedBy(60)
    expect(before.size).toBe(2)
    expect(before.has(first)).toBe(true)

    process.kill(first, "SIGKILL")
    expect(await waitFor(() => workerPids().length === 2 && listening() === 3, 30_000)).toBe(true)
    const second = workerPids()[1]!
    expect(second).not.toBe(first)
    expect(lines().some((line) => line.message === "Worker exited; starting it again" && annotations(line).pid === first)).toBe(true)
    const after = await servedBy(60)
    expect(after.size).toBe(2)
    expect(after.has(second)).toBe(true)

    main.kill("SIGTERM")
    expect(await exitWithin(main, 45_000)).toBe(0)
    expect(existsSync(`/proc/${second}`)).toBe(false)
  } finally {
    main.kill("SIGKILL")
    for (const pid of workerPids()) if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL")
  }
}, 120_000)
