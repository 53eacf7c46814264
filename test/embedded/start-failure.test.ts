import { afterAll, beforeAll, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as EmbeddedDatabase from "../../src/EmbeddedDatabase.ts"
import { freePort } from "../support/Database.ts"
import { exitWithin, logLines, repositoryRoot, startMain } from "../support/MainProcess.ts"

/**
 * An embedded PostgreSQL that cannot start must stop `npm start` with one log line that names the
 * cause and what to do, and exit 1 within seconds: no stack trace, no hang.
 */

const bound = 20_000
let scratch: string
let listener: Server
let takenPort: number

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "dino-wallet-start-failure-"))
  // As root, a data folder that `postgres` cannot reach would be moved to EMBEDDED_PG_ROOT_DIR
  // (and start); these folders must stay where they are to fail.
  await chmod(scratch, 0o755)
  listener = createServer()
  takenPort = await new Promise<number>((resolve) =>
    listener.listen(0, "127.0.0.1", () => {
      const address = listener.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    })
  )
})
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve))
  await rm(scratch, { recursive: true, force: true })
})

/** Runs the service on the embedded path and returns its exit code, time taken and the one line it logged. */
const failedStart = async (env: Record<string, string>) => {
  const started = Date.now()
  const main = startMain({
    cwd: repositoryRoot,
    env: { PORT: String(await freePort()), HOST: "127.0.0.1", EMBEDDED_PG_PORT: String(await freePort()), ...env }
  })
  const code = await exitWithin(main, bound)
  return { code, ms: Date.now() - started, output: main.output() }
}

const expectOneLine = (output: string, message: RegExp) => {
  const lines = logLines(output)
  expect(lines).toHaveLength(1)
  expect(lines[0]!.logLevel).toBe("FATAL")
  expect(String(lines[0]!.message)).toMatch(/^Cannot start the embedded PostgreSQL: /)
  expect(String(lines[0]!.message)).toMatch(message)
  expect(String(lines[0]!.message)).toContain("DATABASE_URL")
  expect(output).not.toMatch(/\n\s+at /)
}

test("a port already taken: one line naming the port and EMBEDDED_PG_PORT, exit 1", async () => {
  const result = await failedStart({
    EMBEDDED_PG_PORT: String(takenPort),
    EMBEDDED_PG_DIR: join(scratch, "taken-port", "postgres")
  })
  expect(result.code).toBe(1)
  expect(result.ms).toBeLessThan(bound)
  expectOneLine(result.output, new RegExp(`port ${takenPort} on 127\\.0\\.0\\.1 is in use.*EMBEDDED_PG_PORT`))
})

test("a data folder that cannot be made (below a file): one line naming it, exit 1", async () => {
  const file = join(scratch, "a-file")
  await writeFile(file, "not a folder")
  const result = await failedStart({ EMBEDDED_PG_DIR: join(file, "data", "postgres") })
  expect(result.code).toBe(1)
  expect(result.ms).toBeLessThan(bound)
  expectOneLine(result.output, /cannot make the folder for its data.*ENOTDIR.*EMBEDDED_PG_DIR/)
})

test("initdb failing (a data folder that is not empty, or not its own): one line with initdb's error, exit 1", async () => {
  const dataDirectory = join(scratch, "not-empty", "postgres")
  await mkdir(dataDirectory, { recursive: true })
  await writeFile(join(dataDirectory, "stray-file"), "")
  const result = await failedStart({ EMBEDDED_PG_DIR: dataDirectory })
  expect(result.code).toBe(1)
  expect(result.ms).toBeLessThan(bound)
  // As root the folder is root's, so initdb (run as `postgres`) cannot even enter it.
  expectOneLine(result.output, /initdb (failed|cannot use) .*(exists but is not empty|Permission denied)/)
})

test("the test harness's start fails fast with the same error", async () => {
  const started = Date.now()
  const { rootDirectory } = await Effect.runPromise(EmbeddedDatabase.EmbeddedConfig)
  const result = await Effect.runPromise(
    EmbeddedDatabase.start({ dataDirectory: join(scratch, "harness", "postgres"), port: takenPort, persistent: false, rootDirectory }).pipe(
      Effect.scoped,
      Effect.either
    )
  )
  expect(Date.now() - started).toBeLessThan(bound)
  expect(Either.isLeft(result)).toBe(true)
  if (Either.isLeft(result)) {
    expect(result.left._tag).toBe("EmbeddedStartError")
    expect(result.left.message).toMatch(new RegExp(`^Cannot start the embedded PostgreSQL: port ${takenPort} on 127\\.0\\.0\\.1 is in use`))
  }
})
