import { describe, expect, test } from "bun:test"
import { SqlError } from "@effect/sql/SqlError"
import { isConflict, isUnavailable } from "../../src/SqlFailure.ts"

const failed = (code: string | undefined, message = "Failed to execute statement") =>
  new SqlError({ cause: code === undefined ? new Error("boom") : Object.assign(new Error("boom"), { code }), message })

describe("what a failed statement means", () => {
  test("serialization failures and deadlocks are conflicts, nothing else is", () => {
    expect(isConflict(failed("40001"))).toBe(true)
    expect(isConflict(failed("40P01"))).toBe(true)
    for (const code of ["23505", "23514", "57014", undefined]) expect(isConflict(failed(code))).toBe(false)
    expect(isConflict(Object.assign(new Error("not sql"), { code: "40001" }))).toBe(false)
  })

  test("a database that is down, missing, full or too slow is unavailable", () => {
    for (const code of ["08006", "08001", "3D000", "53300", "57014", "57P01", "57P03", "ECONNREFUSED", "ECONNRESET"]) {
      expect(isUnavailable(failed(code))).toBe(true)
    }
    expect(isUnavailable(failed(undefined, "Failed to acquire connection for transaction"))).toBe(true)
  })

  test("a connection that pg found broken under a statement is unavailable", () => {
    for (
      const message of [
        "Connection terminated unexpectedly",
        "Client has encountered a connection error and is not queryable",
        "Client was closed and is not queryable"
      ]
    ) {
      expect(isUnavailable(new SqlError({ cause: new Error(message), message: "Failed to execute statement" }))).toBe(true)
    }
  })

  test("constraint violations, conflicts and bugs are not unavailability", () => {
    for (const code of ["23505", "23514", "40001", "42P01", undefined]) expect(isUnavailable(failed(code))).toBe(false)
    expect(isUnavailable(new Error("Failed to acquire connection"))).toBe(false)
  })
})
