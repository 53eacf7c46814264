import { SqlError } from "@effect/sql/SqlError"

/**
 * What a failed statement means to the service, read from the SQLSTATE (or the socket error
 * code) that pg puts on the SqlError's cause: a conflict worth running the transaction again
 * for, a database that cannot serve right now, or anything else (a bug).
 */

const codeOf = (error: SqlError): string | undefined => {
  const cause = error.cause
  return typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
}

/**
 * check_violation (23514) of the named constraint: a rule of the schema that a statement broke,
 * which a use case may answer as a refusal (an asset's maxDebt below a player's debt).
 */
export const violates = (u: unknown, constraint: string): u is SqlError =>
  u instanceof SqlError && codeOf(u) === "23514" &&
  typeof u.cause === "object" && u.cause !== null && "constraint" in u.cause && u.cause.constraint === constraint

/** serialization_failure and deadlock_detected: PostgreSQL asks for the transaction to run again. */
const conflictStates = new Set(["40001", "40P01"])

export const isConflict = (u: unknown): u is SqlError => u instanceof SqlError && conflictStates.has(codeOf(u) ?? "")

/**
 * The database is down, restarting, out of connections, missing, or too slow (statement
 * timeout): a 503 the client may retry with the same key, which applies at most once even if
 * the connection broke after a COMMIT.
 */
const unavailableStates = new Set(["3D000", "53300", "57014", "57P01", "57P02", "57P03"])
const unavailableSocketErrors = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "EPIPE"])

/**
 * What pg 8 says, with no code, when the connection under a statement is gone: the server
 * closed it (a restart, a terminated backend) during the statement, or earlier while a
 * transaction held it, so that its next statement finds it broken. Without these, a database
 * restart under load answered a few writes 500 instead of 503 (test/fault/database-restart).
 */
const connectionLostMessages = new Set([
  "Connection terminated",
  "Connection terminated unexpectedly",
  "Connection terminated due to connection timeout",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable"
])

const causeMessageOf = (error: SqlError): string | undefined => {
  const cause = error.cause
  return cause instanceof Error ? cause.message : undefined
}

export const isUnavailable = (u: unknown): u is SqlError => {
  if (!(u instanceof SqlError)) return false
  // @effect/sql-pg's wording when the pool cannot hand out a connection (refused, timed out).
  if (u.message.startsWith("Failed to acquire connection")) return true
  const code = codeOf(u)
  if (code === undefined) return connectionLostMessages.has(causeMessageOf(u) ?? "")
  return code.startsWith("08") || unavailableStates.has(code) || unavailableSocketErrors.has(code)
}
