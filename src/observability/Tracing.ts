import { FetchHttpClient, HttpMiddleware } from "@effect/platform"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * Where spans go, from the standard OpenTelemetry variables. Unset (or empty), nothing is
 * exported and the tracer is off. The endpoint is the collector's base URL, as the OTLP
 * specification defines it: spans are POSTed as OTLP/HTTP JSON to `<endpoint>/v1/traces`.
 */
export const TracingConfig = Config.all({
  endpoint: Config.string("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(
    Config.withDefault(""),
    Config.validate({
      message: "Expected an http(s) URL, such as http://localhost:4318",
      validation: (url) => url === "" || URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)
    }),
    Config.map((url) => url === "" ? Option.none<string>() : Option.some(url))
  ),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("dino-wallet")),
  // The batch span processor's delay in the OpenTelemetry SDKs: how often spans are sent.
  exportDelayMs: Config.integer("OTEL_BSP_SCHEDULE_DELAY").pipe(
    Config.validate({ message: "Expected an integer from 1 to 60000 (milliseconds)", validation: (n) => n >= 1 && n <= 60_000 }),
    Config.withDefault(5_000)
  ),
  // Collectors of hosted vendors want a key here: a secret, never logged.
  headers: Config.redacted("OTEL_EXPORTER_OTLP_HEADERS").pipe(Config.withDefault(Redacted.make("")))
})

/** A value that is not valid percent-encoding is taken as it is, rather than stopping the start. */
const percentDecoded = (value: string) => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/**
 * `key=value` pairs separated by commas, values percent-encoded (the OTLP exporter
 * specification's format). A pair without `=` is ignored, as the SDKs do.
 */
export const parseOtlpHeaders = (text: string): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) continue
    const value = pair.slice(at + 1).trim()
    headers[pair.slice(0, at).trim().toLowerCase()] = percentDecoded(value)
  }
  return headers
}

/** The OTLP/HTTP path for traces, under the base endpoint (with or without its trailing slash). */
export const tracesUrl = (endpoint: string) => `${endpoint.replace(/\/+$/, "")}/v1/traces`

/**
 * Effect's tracer is on by default and records every span whether or not anything exports it:
 * the HTTP server's span per request, one per `Effect.fn` use case and one per SQL statement,
 * each with its attributes (the statement text, the URL, every request header). With no
 * exporter nobody ever reads them; switched off, a span is a shared no-op and its attributes
 * are dropped unread, which cut the service's CPU per request measurably (bench/README.md,
 * "Where the CPU goes").
 *
 * The HTTP server also builds its span's attributes (the parsed URL, every request and response
 * header, redacted) before it asks the tracer for the span, so with the tracer off it would
 * still do that work per request for nothing: the second layer skips it.
 */
export const TracingOffLive = Layer.merge(
  Layer.setTracerEnabled(false),
  Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, () => true)
)

/**
 * Spans exported over OTLP/HTTP JSON (no protobuf or OpenTelemetry SDK needed at run time),
 * batched in memory and sent every `exportDelayMs`, and once more on shutdown. An unreachable
 * collector costs the service nothing but a debug line: the exporter pauses for a minute.
 */
const exportingLive = (config: Config.Config.Success<typeof TracingConfig>, endpoint: string) =>
  OtlpTracer.layer({
    url: tracesUrl(endpoint),
    resource: { serviceName: config.serviceName },
    headers: parseOtlpHeaders(Redacted.value(config.headers)),
    exportInterval: Duration.millis(config.exportDelayMs)
  }).pipe(Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson]))

/** Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then every span of the service is exported. */
export const TracingLive = Layer.unwrapEffect(
  Effect.map(TracingConfig, (config) =>
    Option.match(config.endpoint, {
      onNone: () => TracingOffLive,
      onSome: (endpoint) => exportingLive(config, endpoint)
    }))
)
