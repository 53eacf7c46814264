import { expect, test } from "bun:test"
import { freePort } from "../support/Database.ts"
import { exitWithin, logLines, repositoryRoot, startMain } from "../support/MainProcess.ts"

/**
 * The production image sets EMBEDDED_DATABASE=false: without DATABASE_URL the service must stop
 * with one line saying what to set, and start no embedded database.
 */
test("EMBEDDED_DATABASE=false and no DATABASE_URL: one line naming both, exit 1, no embedded database", async () => {
  const embeddedPort = await freePort()
  const main = startMain({
    cwd: repositoryRoot,
    env: {
      PORT: String(await freePort()),
      HOST: "127.0.0.1",
      EMBEDDED_DATABASE: "false",
      EMBEDDED_PG_PORT: String(embeddedPort),
      EMBEDDED_PG_DIR: "/nonexistent/dino-wallet-must-not-start"
    }
  })
  expect(await exitWithin(main, 20_000)).toBe(1)
  const lines = logLines(main.output())
  expect(lines).toHaveLength(1)
  expect(lines[0]!.logLevel).toBe("FATAL")
  expect(String(lines[0]!.message)).toMatch(/^DATABASE_URL is not set and EMBEDDED_DATABASE is false: set DATABASE_URL .* or EMBEDDED_DATABASE=true/)
  expect(main.output()).not.toContain("Embedded PostgreSQL")
})

test("EMBEDDED_DATABASE must be a boolean", async () => {
  const main = startMain({
    cwd: repositoryRoot,
    env: { PORT: String(await freePort()), HOST: "127.0.0.1", EMBEDDED_DATABASE: "sometimes" }
  })
  expect(await exitWithin(main, 20_000)).toBe(1)
  expect(main.output()).toContain("EMBEDDED_DATABASE")
})
