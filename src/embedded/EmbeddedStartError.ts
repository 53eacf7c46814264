import * as Data from "effect/Data"

/**
 * The embedded PostgreSQL did not start. The message is one line that says what went wrong and
 * what to do about it, because it is all a new user sees: `npm start` logs it and exits 1, the
 * test harness fails every suite with it.
 */
export class EmbeddedStartError extends Data.TaggedError("EmbeddedStartError")<{
  readonly message: string
}> {}

/** Every remedy ends with the way around the embedded server altogether. */
const otherwise = "or set DATABASE_URL to use a PostgreSQL server of your own"

export const startError = (reason: string, remedy: string) =>
  new EmbeddedStartError({ message: `Cannot start the embedded PostgreSQL: ${reason}. ${remedy}, ${otherwise}.` })

/** Node's errors carry a `code` (EACCES, ENOSPC, ...) that says more than their text. */
export const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

/** A Node or PostgreSQL message on one line, so the whole error stays one log line. */
export const oneLine = (text: string) => text.replace(/\s+/g, " ").trim()

export const describe = (cause: unknown) => oneLine(cause instanceof Error ? cause.message : String(cause))
