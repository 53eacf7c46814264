import { afterAll, expect, test } from "bun:test"
import { createServer, connect, type Socket } from "node:net"
import { allAssets, checkRun, faultLoad, faultWrites, freshDatabaseWithProcesses, openingBalances, workload } from "../support/FaultRun.ts"
import { startServiceProcess, type ServiceProcess } from "../support/ServiceProcess.ts"

/**
 * The database goes silent under load: a TCP proxy between the service and PostgreSQL stops
 * forwarding (every connection stays open, the bytes either way are dropped), as a failover or a
 * dropped NAT entry would leave it, while clients write; then it forwards again. The server
 * never cancels anything (it never hears of it), so only the service's own bound on a connection
 * in use (DATABASE_QUERY_TIMEOUT_MS) ends the writer's wait: every try must be answered (a 503
 * or a success) well within the clients' patience, the silent connections must be dropped (with
 * a pool of 3, any kept would stall the writes after), writes must resume once the proxy
 * forwards, and every write must apply exactly once.
 */

/** Short timeouts, so that a silence of a few seconds is a fault many times over. */
const statementTimeoutMs = 1_000
const queryTimeoutMs = 1_500
const connectTimeoutMs = 1_000
/**
 * How long a client waits for any answer: the bound (queue wait behind a failing batch, then
 * its own batch, each at most about one query timeout) with a wide margin for a slow machine.
 * Without the bound a try waits for as long as the silence, and forever on a dropped connection.
 */
const answerBoundMs = 15_000
const silences = 2
const silenceMs = 3_000

interface SilencingProxy {
  readonly port: number
  /** Stops forwarding: connections stay open, and what either side sends is dropped. */
  readonly silence: () => void
  readonly forward: () => void
  readonly close: () => Promise<void>
}

/** A TCP proxy to `host:port` that forwards until told to stay silent. */
const startProxy = (host: string, port: number) =>
  new Promise<SilencingProxy>((resolve, reject) => {
    let forwarding = true
    const sockets = new Set<Socket>()
    const server = createServer((client) => {
      const upstream = connect(port, host)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => {
          sockets.delete(socket)
          client.destroy()
          upstream.destroy()
        })
        socket.on("error", () => undefined)
      }
      client.on("data", (chunk) => void (forwarding && upstream.write(chunk)))
      upstream.on("data", (chunk) => void (forwarding && client.write(chunk)))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (typeof address !== "object" || address === null) return reject(new Error("the proxy has no port"))
      resolve({
        port: address.port,
        silence: () => void (forwarding = false),
        forward: () => void (forwarding = true),
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })

const fresh = freshDatabaseWithProcesses()
let proxy: SilencingProxy | undefined
let service: ServiceProcess | undefined
afterAll(async () => {
  await service?.kill()
  await proxy?.close()
})

test("the database goes silent under load: every try is answered within the bound, and every write applies once", async () => {
  const databaseUrl = await fresh.databaseUrl()
  const direct = new URL(databaseUrl)
  proxy = await startProxy(direct.hostname, Number(direct.port || 5432))
  const proxied = new URL(databaseUrl)
  proxied.hostname = "127.0.0.1"
  proxied.port = String(proxy.port)
  service = await startServiceProcess(proxied.toString(), {
    DATABASE_POOL_SIZE: "3",
    DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
    DATABASE_QUERY_TIMEOUT_MS: String(queryTimeoutMs),
    DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs)
  })
  const opening = await openingBalances(databaseUrl)
  const baseUrl = service.baseUrl

  const load = faultLoad(workload("silent", faultWrites, allAssets), () => [baseUrl], answerBoundMs)
  for (let i = 1; i <= silences; i++) {
    await load.reached(Math.floor(faultWrites * i / (silences + 1)))
    proxy.silence()
    await Bun.sleep(silenceMs)
    proxy.forward()
  }
  const { results } = await checkRun("database silent", databaseUrl, load, opening)
  const attempts = results.flatMap((r) => r.attempts)
  // Every try got an HTTP answer: none waited past the clients' bound, none was cut.
  const unanswered = attempts.flatMap((a) => a.outcome._tag === "NoAnswer" ? [a.outcome.reason] : [])
  expect(unanswered).toEqual([])
  // The silences were met: some tries were answered 503 while the proxy dropped everything.
  const unavailable = attempts.filter((a) => a.outcome._tag === "Answered" && a.outcome.status === 503).length
  console.log(`[fault] database silent: ${silences} silences of ${silenceMs} ms, ${unavailable} tries answered 503, ` +
    `longest try ${Math.max(...attempts.map((a) => a.endedAt - a.startedAt))} ms`)
  expect(unavailable).toBeGreaterThan(0)
}, 180_000)
