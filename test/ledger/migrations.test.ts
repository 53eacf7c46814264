import { expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { migrate, SqlLive } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "../support/Database.ts"

/**
 * The migrator runs only files numbered above the newest applied one. A file it would skip for
 * good (merged after a later-numbered one had run here) must stop the start-up instead.
 */
test("a migration numbered below the newest applied one, never applied, stops the migration with its name", async () => {
  const database = ManagedRuntime.make(Layer.provideMerge(SqlLive, FreshDatabaseLive))
  try {
    // As if 0003 had been merged after 0004 and later ran here.
    await database.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`DELETE FROM schema_migrations WHERE migration_id = 3`))
    const failure = await database.runPromise(Effect.flip(migrate))
    expect(failure._tag).toBe("MigrationError")
    expect(failure.message).toContain("0003_idempotency_outcome.sql")
    // With every file applied, migrating again is a no-op.
    await database.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`INSERT INTO schema_migrations (migration_id, name) VALUES (3, 'idempotency_outcome')`))
    expect(await database.runPromise(migrate)).toEqual([])
  } finally {
    await database.dispose()
  }
})
