import { connect } from "node:net"
import { testAdminKey } from "./TestApiKey.ts"

/** An answer read off the socket, or why there was none. */
export type RawOutcome =
  | {
    readonly _tag: "Answered"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
  }
  | { readonly _tag: "Closed"; readonly received: string }
  | { readonly _tag: "Timeout"; readonly received: string }

const decodeChunked = (raw: Buffer) => {
  const parts: Array<Buffer> = []
  let at = 0
  while (at < raw.length) {
    const lineEnd = raw.indexOf("\r\n", at)
    if (lineEnd < 0) break
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16)
    if (!(size > 0)) break
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** The first final response in what the server sent, if it is complete (a 100 Continue is skipped). */
const parseResponse = (raw: Buffer): RawOutcome | undefined => {
  const headEnd = raw.indexOf("\r\n\r\n")
  if (headEnd < 0) return undefined
  if (/^HTTP\/1\.[01] 1\d\d/.test(raw.subarray(0, 12).toString("latin1"))) return parseResponse(raw.subarray(headEnd + 4))
  const [statusLine = "", ...headerLines] = raw.subarray(0, headEnd).toString("latin1").split("\r\n")
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1])
  if (Number.isNaN(status)) return undefined
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const rest = raw.subarray(headEnd + 4)
  if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
    if (rest.indexOf("0\r\n\r\n") < 0) return undefined
    return { _tag: "Answered", status, headers, body: decodeChunked(rest).toString("utf8") }
  }
  const length = Number(headers["content-length"] ?? 0)
  if (rest.length < length) return undefined
  return { _tag: "Answered", status, headers, body: rest.subarray(0, length).toString("utf8") }
}

/**
 * The request with `Authorization: Bearer <apiKey>` as its first header line, right after the
 * request line; bytes without a line end are left as they are.
 */
const withAuthorization = (bytes: Buffer, apiKey: string) => {
  const lineEnd = bytes.indexOf("\r\n")
  if (lineEnd < 0) return bytes
  return Buffer.concat([
    bytes.subarray(0, lineEnd + 2),
    Buffer.from(`Authorization: Bearer ${apiKey}\r\n`, "latin1"),
    bytes.subarray(lineEnd + 2)
  ])
}

/**
 * Sends bytes as given on a connection of its own (fetch would normalise the path, fix the
 * framing and refuse odd methods) and reads the first response; the only change is the test
 * admin key as the first header (`apiKey: null` sends none). After sending, the connection
 * stays open (a half-close is a client gone away, to Bun): a request whose framing promises
 * more than it sends is answered only when the timeout ends it.
 */
export const rawRequest = (
  port: number,
  bytes: Buffer | string,
  timeoutMs: number,
  options: { readonly apiKey?: string | null } = {}
): Promise<RawOutcome> =>
  new Promise((resolve) => {
    const raw = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes
    const apiKey = options.apiKey === undefined ? testAdminKey : options.apiKey
    const sent = apiKey === null ? raw : withAuthorization(raw, apiKey)
    const chunks: Array<Buffer> = []
    let settled = false
    const settle = (outcome: RawOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const received = () => Buffer.concat(chunks).toString("latin1").slice(0, 300)
    const timer = setTimeout(() => settle({ _tag: "Timeout", received: received() }), timeoutMs)
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(sent)
    })
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      const answer = parseResponse(Buffer.concat(chunks))
      if (answer !== undefined) settle(answer)
    })
    socket.on("error", () => settle(parseResponse(Buffer.concat(chunks)) ?? { _tag: "Closed", received: received() }))
    socket.on("close", () => settle(parseResponse(Buffer.concat(chunks)) ?? { _tag: "Closed", received: received() }))
  })
