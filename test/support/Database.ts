import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { chmod, mkdtemp } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import * as EmbeddedDatabase from "../../src/EmbeddedDatabase.ts"
import { DatabaseUrl } from "../../src/Sql.ts"

/** A port the OS has just handed out, so that parallel runs do not collide. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")))
    })
  })

/**
 * The PostgreSQL server the tests use: DATABASE_URL's (the production path) or, without it,
 * one embedded server for the whole test process (the fresh-machine path). Its data lives in
 * a temporary directory deleted when it stops.
 */
let serverUrl: Promise<string> | undefined
const embeddedScope = Effect.runSync(Scope.make())

const testServerUrl = (): Promise<string> => {
  serverUrl ??= process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== ""
    ? Promise.resolve(process.env.DATABASE_URL)
    : (async () => {
      const parent = await mkdtemp(join(tmpdir(), "dino-wallet-test-"))
      // mkdtemp makes the folder private; as root the server runs as `postgres`, which must enter it.
      await chmod(parent, 0o755)
      const dataDirectory = join(parent, "postgres")
      const port = await freePort()
      const { rootDirectory } = await Effect.runPromise(EmbeddedDatabase.EmbeddedConfig)
      const url = EmbeddedDatabase.start({ dataDirectory, port, persistent: false, rootDirectory }).pipe(Scope.extend(embeddedScope))
      const started = await Effect.runPromise(Effect.either(url))
      // The start-up error's one line, as `npm start` logs it: every suite fails at once with it.
      if (Either.isLeft(started)) throw new Error(started.left.message)
      return Redacted.value(started.right)
    })()
  return serverUrl
}

/** Stops the embedded server (and deletes its data) once every suite is done: see setup.ts. */
export const stopTestServer = () => Effect.runPromise(Scope.close(embeddedScope, Exit.void))

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

const admin = async <A>(f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: await testServerUrl() })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/**
 * A database of its own for each suite: created empty (the service migrates it at start), and
 * dropped when the layer is released, so suites never see each other's rows.
 */
export const FreshDatabaseLive = Layer.scoped(
  DatabaseUrl,
  Effect.acquireRelease(
    Effect.promise(async () => {
      const name = `dino_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
      await admin((client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`))
      return { name, url: withDatabase(await testServerUrl(), name) }
    }),
    ({ name }) =>
      Effect.promise(() =>
        admin((client) => client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`))
      )
  ).pipe(Effect.map(({ url }) => Redacted.make(url)))
)

/** Drops a suite's database under the running service, to see how the service copes. */
export const dropDatabase = (url: string) =>
  admin((client) => client.query(`DROP DATABASE ${pg.escapeIdentifier(new URL(url).pathname.slice(1))} WITH (FORCE)`))
