import { expect, test } from "bun:test"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { parseOtlpHeaders, TracingConfig, tracesUrl } from "../../src/observability/Tracing.ts"

const configOf = (env: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(TracingConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))))

test("tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT names an http(s) URL", () => {
  const unset = configOf({})
  expect(Either.isRight(unset) && Option.isNone(unset.right.endpoint)).toBe(true)
  const empty = configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "" })
  expect(Either.isRight(empty) && Option.isNone(empty.right.endpoint)).toBe(true)
  const set = configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })
  expect(Either.isRight(set) && Option.getOrNull(set.right.endpoint)).toBe("http://collector:4318")
  for (const wrong of ["collector:4318", "ftp://collector", "not a url"]) {
    expect({ wrong, refused: Either.isLeft(configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: wrong })) }).toEqual({ wrong, refused: true })
  }
})

test("the defaults: service dino-wallet, an export every 5 seconds, no headers", () => {
  const config = configOf({})
  if (Either.isLeft(config)) throw new Error("expected the defaults")
  expect(config.right.serviceName).toBe("dino-wallet")
  expect(config.right.exportDelayMs).toBe(5_000)
  expect(Redacted.value(config.right.headers)).toBe("")
  expect(Either.isLeft(configOf({ OTEL_BSP_SCHEDULE_DELAY: "0" }))).toBe(true)
})

test("spans go to <endpoint>/v1/traces, and the headers variable is key=value pairs, values percent-encoded", () => {
  expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces")
  expect(tracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces")
  expect(tracesUrl("https://otel.example/otlp")).toBe("https://otel.example/otlp/v1/traces")
  expect(parseOtlpHeaders("x-api-key=abc%3D%3D, Team = core ,broken,=nokey")).toEqual({ "x-api-key": "abc==", team: "core" })
  expect(parseOtlpHeaders("")).toEqual({})
  expect(parseOtlpHeaders("authorization=Bearer 100%")).toEqual({ authorization: "Bearer 100%" })
})
