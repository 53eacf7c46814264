import { afterAll, beforeAll, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { DatabaseUrl } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "../support/Database.ts"
import { type ServiceProcess, startServiceProcess } from "../support/ServiceProcess.ts"
import { testAdminKey } from "../support/TestApiKey.ts"

/**
 * The service as `npm start` runs it, exporting its spans to an OTLP/HTTP receiver in this test
 * process: a write must give one HTTP server span in the request's trace, and one batch span,
 * in a trace of its own, linked to the request's span; the request's log line must name the
 * request's trace. Without OTEL_EXPORTER_OTLP_ENDPOINT no log line names a trace.
 */

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: Record<string, unknown> }>
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}

interface ExportRequest {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: { readonly stringValue?: string } }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

/** OTLP's SpanKind: SPAN_KIND_SERVER. */
const serverKind = 2

const received: Array<ExportRequest> = []
const receiverPaths: Array<string> = []
const receiver = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    receiverPaths.push(new URL(request.url).pathname)
    if (request.method === "POST" && new URL(request.url).pathname === "/v1/traces") {
      received.push(await request.json() as ExportRequest)
      return Response.json({})
    }
    return new Response("not found", { status: 404 })
  }
})

const spans = () => received.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)))
const attribute = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value

const database = ManagedRuntime.make(Layer.fresh(FreshDatabaseLive))
const services: Array<ServiceProcess> = []
let databaseUrl: string
beforeAll(async () => {
  databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
})
afterAll(async () => {
  await Promise.all(services.map((service) => service.kill()))
  receiver.stop(true)
  await database.dispose()
})

/** The service's JSON log lines, as it writes them. */
const logLines = (service: ServiceProcess) => {
  const lines: Array<Record<string, any>> = []
  let partial = ""
  service.child.stdout!.on("data", (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8")
    const parts = text.split("\n")
    partial = parts.pop()!
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line))
      } catch {
        // Not a log line of ours (bun's own output); ignored.
      }
    }
  })
  return lines
}

/** Waits for `found` to give a value: the spans are exported every 100 ms, the log line at once. */
const eventually = async <A>(found: () => A | undefined, what: string): Promise<A> => {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = found()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`Never saw ${what}`)
    await Bun.sleep(50)
  }
}

const topup = (service: ServiceProcess, requestId: string) =>
  fetch(`${service.baseUrl}/api/wallets/topup`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${testAdminKey}`,
      "x-request-id": requestId
    },
    body: JSON.stringify({ userId: 2, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: requestId })
  })

test("a write exports its request span and a batch span linked to it, and its log line names the trace", async () => {
  const service = await startServiceProcess(databaseUrl, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}/`,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json"
  })
  services.push(service)
  const lines = logLines(service)

  const response = await topup(service, "traced-topup-1")
  expect(response.status).toBe(201)

  const requestSpan = await eventually(
    () => spans().find((s) => s.kind === serverKind && attribute(s, "url.path")?.stringValue === "/api/wallets/topup"),
    "the topup's HTTP server span"
  )
  expect(requestSpan.parentSpanId).toBeUndefined()
  expect(attribute(requestSpan, "http.response.status_code")).toEqual({ intValue: 201 })
  // The API key is redacted out of the span's header attributes.
  expect(attribute(requestSpan, "http.request.header.authorization")?.stringValue).not.toContain("dwk_")

  const batchSpan = await eventually(
    () => spans().find((s) => s.name === "WriteBatch.commit" && s.links.some((l) => l.traceId === requestSpan.traceId)),
    "a batch span linked to the topup's trace"
  )
  // The batch is a trace of its own: it may serve requests of many traces.
  expect(batchSpan.traceId).not.toBe(requestSpan.traceId)
  expect(batchSpan.parentSpanId).toBeUndefined()
  expect(attribute(batchSpan, "commands")).toEqual({ intValue: 1 })
  // The link leads to a span of the request's trace: the use case's, under the server span.
  const link = batchSpan.links.find((l) => l.traceId === requestSpan.traceId)!
  const linked = await eventually(() => spans().find((s) => s.spanId === link.spanId), "the linked span")
  expect(linked.traceId).toBe(requestSpan.traceId)
  // The statements of the batch are spans under it.
  expect(spans().some((s) => s.traceId === batchSpan.traceId && s.parentSpanId !== undefined)).toBe(true)

  // A bulk request's items share the request's span: its batch links to it once.
  const bulk = await fetch(`${service.baseUrl}/api/wallets/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${testAdminKey}`, "x-request-id": "traced-bulk-1" },
    body: JSON.stringify({
      items: [1, 2, 3].map((i) => ({ type: "BONUS", userId: 2, assetCode: "DIAMONDS", amount: i, idempotencyKey: `traced-bulk-${i}` }))
    })
  })
  expect(bulk.status).toBe(200)
  const bulkSpan = await eventually(
    () => spans().find((s) => s.kind === serverKind && attribute(s, "url.path")?.stringValue === "/api/wallets/batch"),
    "the bulk request's HTTP server span"
  )
  const bulkBatches = await eventually(() => {
    const linked = spans().filter((s) => s.name === "WriteBatch.commit" && s.links.some((l) => l.traceId === bulkSpan.traceId))
    const commands = linked.reduce((n, s) => n + Number(attribute(s, "commands")?.intValue), 0)
    return commands === 3 ? linked : undefined
  }, "the batches of the bulk request's three items")
  for (const batch of bulkBatches) {
    expect(batch.links.filter((l) => l.traceId === bulkSpan.traceId)).toHaveLength(1)
  }

  const serviceName = received[0]!.resourceSpans[0]!.resource.attributes.find((a) => a.key === "service.name")
  expect(serviceName?.value.stringValue).toBe("dino-wallet")
  expect(receiverPaths.every((path) => path === "/v1/traces")).toBe(true)

  const line = await eventually(
    () => lines.find((l) => l.message === "request" && l.annotations?.requestId === "traced-topup-1"),
    "the topup's request log line"
  )
  expect(line.annotations.traceId).toBe(requestSpan.traceId)
  expect(line.annotations.spanId).toBe(requestSpan.spanId)
})

test("without OTEL_EXPORTER_OTLP_ENDPOINT the tracer is off: log lines name no trace", async () => {
  const service = await startServiceProcess(databaseUrl, { LOG_LEVEL: "info", LOG_FORMAT: "json" })
  services.push(service)
  const lines = logLines(service)
  expect((await topup(service, "untraced-topup-1")).status).toBe(201)
  const line = await eventually(
    () => lines.find((l) => l.message === "request" && l.annotations?.requestId === "untraced-topup-1"),
    "the topup's request log line"
  )
  expect(line.annotations.traceId).toBeUndefined()
  expect(line.annotations.spanId).toBeUndefined()
})
