import { HttpApiBuilder, HttpServerError, HttpServerRequest } from "@effect/platform"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  InternalError,
  MalformedJson,
  MethodNotAllowed,
  PayloadTooLarge,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType,
  ValidationError
} from "../domain/Http.ts"
import { isUnavailable } from "../SqlFailure.ts"
import { WalletApi } from "./Api.ts"
import { consoleAssets } from "./Console.ts"
import { MaxJsonDepth, nestsDeeperThan } from "./JsonDepth.ts"

/** Request bodies are small JSON objects; anything larger is refused before it is parsed. */
export const MaxBodyBytes = 64 * 1024

/** A bulk request carries up to 1,000 writes of about 150 bytes each. */
export const MaxBulkBodyBytes = 1024 * 1024

const bodyLimit = (url: string) =>
  new URL(url, "http://localhost").pathname.replace(/\/$/, "") === "/api/wallets/batch" ? MaxBulkBodyBytes : MaxBodyBytes

/** A literal route segment, escaped for a RegExp. */
const literal = (segment: string) => segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The routes the server answers, to tell "no such path" (404) from "not with this method" (405),
 * each with its path schema, to explain a parameter the router would not take.
 */
const knownRoutes: ReadonlyArray<{
  readonly method: string
  readonly pattern: RegExp
  readonly pathSchema: Option.Option<Schema.Schema<unknown, unknown>>
}> = [
  ...Object.values(WalletApi.groups).flatMap((group) =>
    Object.values(group.endpoints).map((endpoint) => ({
      method: endpoint.method,
      path: endpoint.path,
      pathSchema: endpoint.pathSchema
    }))
  ),
  { method: "GET", path: "/api/openapi.json", pathSchema: Option.none() },
  { method: "GET", path: "/docs", pathSchema: Option.none() },
  ...consoleAssets.map((asset) => ({ method: "GET", path: asset.path, pathSchema: Option.none() }))
].map(({ method, path, pathSchema }) => ({
  method,
  pattern: new RegExp(`^${
    path.split("/").map((segment: string) => segment.startsWith(":") ? `(?<${segment.slice(1)}>[^/]+)` : literal(segment)).join("/")
  }/?$`),
  pathSchema
}))

/** A path is echoed in messages, but a very long one only in part. */
const shown = (path: string) => path.length > 200 ? `${path.slice(0, 200)}…` : path

const decodedSegment = (raw: string) => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * The route's pattern takes any segment, but the router refuses some parameters outright: it
 * reads `;` as the start of matrix parameters and drops anything over 100 characters. The
 * method is allowed there, so the parameter is what is wrong: decoded by the route's own path
 * schema, it fails as it would have behind the router (400 VALIDATION_ERROR with its issue).
 */
const invalidParameters = (route: (typeof knownRoutes)[number], path: string) =>
  Effect.gen(function*() {
    const segments = Object.fromEntries(
      Object.entries(route.pattern.exec(path)?.groups ?? {}).map(([name, raw]) => [name, decodedSegment(raw)])
    )
    if (Option.isSome(route.pathSchema)) {
      const decoded = yield* Effect.either(Schema.decodeUnknown(route.pathSchema.value)(segments))
      if (Either.isLeft(decoded)) return validationError(yield* HttpApiDecodeError.fromParseError(decoded.left))
    }
    const issues = Object.keys(segments).map((name) => ({ path: [name], message: "not a path segment this route accepts" }))
    return new ValidationError({
      message: `Invalid request: ${issues.map((issue) => `${issue.path[0]}: ${issue.message}`).join("; ")}`,
      issues
    })
  })

const routeNotFound = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const path = new URL(request.url, "http://localhost").pathname
    const matching = knownRoutes.filter((route) => route.pattern.test(path))
    if (matching.length === 0) return new RouteNotFound({ message: `No route for ${request.method} ${shown(path)}` })
    const sameMethod = matching.find((route) => route.method === request.method)
    if (sameMethod !== undefined) return yield* invalidParameters(sameMethod, path)
    return new MethodNotAllowed({ message: `${request.method} is not allowed on ${shown(path)}`, allow: matching.map((route) => route.method) })
  })

/**
 * Schema reports an optional field that fails twice: once for its own rule and once as "Expected
 * undefined, actual ..." for the absent alternative, which only repeats the value. A body that is
 * not an object at all fails at the root, in the schema's internal vocabulary.
 */
const isUndefinedEcho = (issue: { readonly message: string }) => issue.message.startsWith("Expected undefined,")

/** Schema's messages quote the value they refused; a 60 KiB value is quoted only in part. */
const echoAtMost = (message: string) => message.length > 300 ? `${message.slice(0, 300)}…` : message

const clientIssues = (error: HttpApiDecodeError) => {
  const pathKey = (path: ReadonlyArray<PropertyKey>) => path.map(String).join("\u0000")
  const pathsWithRule = new Set(error.issues.filter((issue) => !isUndefinedEcho(issue)).map((issue) => pathKey(issue.path)))
  return error.issues
    .filter((issue) => !(isUndefinedEcho(issue) && pathsWithRule.has(pathKey(issue.path))))
    .map((issue) => ({
      path: issue.path.map((key) => typeof key === "symbol" ? String(key) : key),
      message: issue.path.length === 0 && issue._tag === "Type" ? "expected a JSON object" : echoAtMost(issue.message)
    }))
}

const validationError = (error: HttpApiDecodeError) => {
  const issues = clientIssues(error)
  const summary = issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length === 0 ? "request" : issue.path.join(".")}: ${issue.message}`)
    .join("; ")
  return new ValidationError({ message: `Invalid request: ${summary}`, issues })
}

const tooLarge = (limit: number) => new PayloadTooLarge({ message: `Request bodies are limited to ${limit} bytes here` })

/**
 * A body must be JSON, at most MaxBodyBytes (MaxBulkBodyBytes for a bulk request) and nested at
 * most MaxJsonDepth levels. The declared length is checked before reading; a chunked body is
 * measured once read.
 */
const checkBody = Effect.flatMap(
  HttpServerRequest.HttpServerRequest,
  // Most requests are reads, with no body to check.
  (request) => request.method === "POST" || request.method === "PUT" || request.method === "PATCH" ? checkBodyOf(request) : Effect.void
)

const checkBodyOf = (request: HttpServerRequest.HttpServerRequest) => Effect.gen(function*() {
  const limit = bodyLimit(request.url)
  const declared = Number(request.headers["content-length"] ?? Number.NaN)
  if (declared > limit) return yield* tooLarge(limit)
  const contentType = request.headers["content-type"] ?? ""
  if (!contentType.toLowerCase().startsWith("application/json")) {
    return yield* new UnsupportedMediaType({ message: "Request bodies must be JSON (Content-Type: application/json)" })
  }
  // The request caches the text, so the handler's decoding reads it from here.
  const body = yield* Effect.orDie(request.text)
  if (Number.isNaN(declared) && Buffer.byteLength(body) > limit) return yield* tooLarge(limit)
  if (nestsDeeperThan(body, MaxJsonDepth)) {
    const message = `nested deeper than ${MaxJsonDepth} levels`
    return yield* new ValidationError({ message: `Invalid request: request: ${message}`, issues: [{ path: [], message }] })
  }
})

const isMalformedJson = (defect: unknown) =>
  HttpServerError.isServerError(defect) && defect._tag === "RequestError" && defect.reason === "Decode"

/**
 * Gives every failure that never reaches a use case the error body of the contract: unknown
 * routes, wrong methods, bodies that are not JSON or too large, schema failures, and defects
 * (503 when the database cannot serve, which a client may retry; 500 for anything else).
 * It runs inside the API's error encoding, so each error here is encoded like any other.
 */
export const EdgeErrorsLive = HttpApiBuilder.middleware(WalletApi, (app) =>
  Effect.zipRight(checkBody, app).pipe(
    Effect.catchAllCause((cause) =>
      Effect.gen(function*() {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) {
          // The app's error type says nothing of what the router and the decoder fail with.
          const error: unknown = failure.value
          if (error instanceof HttpApiDecodeError) return yield* validationError(error)
          if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
            return yield* Effect.flatMap(routeNotFound(error.request), Effect.fail)
          }
          return yield* Effect.failCause(cause)
        }
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
        const defect = Cause.squash(cause)
        if (isMalformedJson(defect)) {
          return yield* new MalformedJson({ message: "The request body is not valid JSON" })
        }
        if (isUnavailable(defect)) {
          yield* Effect.logWarning("Database unavailable", cause)
          return yield* new ServiceUnavailable({
            status: "unavailable",
            message: "The database is unavailable; retry later (a write with the same idempotency key applies at most once)"
          })
        }
        yield* Effect.logError("Unexpected failure", cause)
        return yield* new InternalError({ message: "An unexpected error occurred; it has been logged" })
      })
    )
  ))

