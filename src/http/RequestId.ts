import { HttpBody, HttpServerResponse } from "@effect/platform"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"

/**
 * Every request carries an id: the client's `X-Request-Id` when it is safe to echo and log,
 * else a fresh UUID. It comes back as the `x-request-id` header of every response and as
 * `requestId` in every error body, and it annotates every log line of the request, so a client
 * quoting an error leads straight to its log lines.
 */

export const requestIdHeader = "x-request-id"

/**
 * The id of the request the current fiber serves, for handlers that pass it on as plain data:
 * a write keeps it with its stored outcome, so that a replay names the first request again.
 */
export const currentRequestId = FiberRef.unsafeMake<string | null>(null)

/** The most characters of a client's id that are kept; longer ones are replaced, not cut. */
export const RequestIdMaxChars = 128

/**
 * A safe id goes into log lines and headers unchanged: no spaces, quotes, control characters or
 * separators a log parser or a header could trip on. Anything else is replaced whole, since a
 * truncated or rewritten id would no longer match the client's own records.
 */
const safeRequestId = new RegExp(`^[A-Za-z0-9._:-]{1,${RequestIdMaxChars}}$`)

export const requestIdFrom = (header: string | undefined): string =>
  header !== undefined && safeRequestId.test(header) ? header : randomUUID()

const isErrorBody = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && typeof (value as { code?: unknown }).code === "string"

const parseJson = (bytes: Uint8Array): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(new TextDecoder().decode(bytes)))
  } catch {
    return Option.none()
  }
}

/**
 * The response with its request id: always in the header, and in the body of a JSON error
 * (status 4xx or 5xx with a `code`). The error classes are encoded by HttpApi, which knows
 * nothing of requests, so the field is added here, once, for every error whoever wrote it.
 * A body that already names a request id keeps it.
 */
export const withRequestId = (response: HttpServerResponse.HttpServerResponse, requestId: string) => {
  const withHeader = HttpServerResponse.setHeader(response, requestIdHeader, requestId)
  const body = response.body
  if (response.status < 400 || body._tag !== "Uint8Array" || !body.contentType.startsWith("application/json")) {
    return withHeader
  }
  return Option.match(Option.filter(parseJson(body.body), isErrorBody), {
    onNone: () => withHeader,
    onSome: (error) =>
      "requestId" in error
        ? withHeader
        : HttpServerResponse.setBody(withHeader, HttpBody.unsafeJson({ ...error, requestId }, body.contentType))
  })
}
