import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { chmod, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as EmbeddedDatabase from "../../src/EmbeddedDatabase.ts"
import { freePort } from "./Database.ts"

/**
 * A PostgreSQL server of one test's own, from the embedded binaries (always installed, so this
 * works with DATABASE_URL set too), which the test may stop and start again on the same port and
 * data folder while a service uses it.
 */
export interface DedicatedPostgres {
  /** The `postgres` database of the server; the same across restarts. */
  readonly url: string
  /** Fast shutdown (SIGINT): sessions are cut, committed data stays. */
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  /** Stops the server if it runs and deletes its data. */
  readonly dispose: () => Promise<void>
}

export const startDedicatedPostgres = async (): Promise<DedicatedPostgres> => {
  const parent = await mkdtemp(join(tmpdir(), "dino-wallet-fault-"))
  // As root the server runs as `postgres`, which must enter the folder (see Database.ts).
  await chmod(parent, 0o755)
  const { rootDirectory } = await Effect.runPromise(EmbeddedDatabase.EmbeddedConfig)
  // persistent: the data must outlive a stop; dispose deletes it.
  const options = { dataDirectory: join(parent, "postgres"), port: await freePort(), persistent: true, rootDirectory }
  let scope: Scope.CloseableScope | undefined

  const start = async () => {
    const opened = Effect.runSync(Scope.make())
    const started = await Effect.runPromise(Effect.either(EmbeddedDatabase.start(options).pipe(Scope.extend(opened))))
    if (Either.isLeft(started)) {
      await Effect.runPromise(Scope.close(opened, Exit.void))
      throw new Error(started.left.message)
    }
    scope = opened
    return Redacted.value(started.right)
  }
  const stop = async () => {
    const running = scope
    scope = undefined
    if (running !== undefined) await Effect.runPromise(Scope.close(running, Exit.void))
  }
  const url = await start()
  return {
    url,
    stop,
    start: async () => {
      await start()
    },
    dispose: async () => {
      await stop()
      await rm(parent, { recursive: true, force: true })
    }
  }
}
