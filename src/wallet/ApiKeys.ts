import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { chmod, mkdir, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import {
  AdminApiKeyMinChars,
  ApiKeyId,
  ApiKeyInfo,
  ApiKeyLimit,
  ApiKeyList,
  ApiKeyNotFound,
  ApiKeyPrefix,
  type Caller,
  CreatedApiKey,
  Forbidden,
  grants,
  type NewApiKey,
  type Scope,
  Unauthorized
} from "../domain/ApiKey.ts"
import { ApiKeyRepository, type ApiKeyRow, type TableVersion } from "../ledger/ApiKeyRepository.ts"

/**
 * Where the first admin key is also written (mode 0600) when the service makes one: beside the
 * embedded database's data, or nowhere with DATABASE_URL (the log line is the only copy then).
 */
export class AdminKeyFile extends Context.Tag("AdminKeyFile")<AdminKeyFile, Option.Option<string>>() {}

/**
 * AUTH_DISABLED serves everyone as admin: a setting for a laptop that, copied into a production
 * deployment, would open every wallet to anyone who can reach the port. With NODE_ENV=production
 * (which the Docker image sets) it stops the start-up instead, saying why.
 */
const authDisabled = Config.all({
  disabled: Config.boolean("AUTH_DISABLED").pipe(Config.withDefault(false)),
  nodeEnv: Config.string("NODE_ENV").pipe(Config.withDefault(""))
}).pipe(
  Config.validate({
    message: "AUTH_DISABLED=true is refused with NODE_ENV=production: it would serve every request without an API key, " +
      "as admin. Unset AUTH_DISABLED and give the service an ADMIN_API_KEY",
    validation: ({ disabled, nodeEnv }) => !(disabled && nodeEnv === "production")
  }),
  Config.map(({ disabled }) => disabled)
)

export const AuthConfig = Config.all({
  /** Unset or empty: no such key. Always an admin key, never stored, compared by its hash. */
  adminApiKey: Config.redacted("ADMIN_API_KEY").pipe(
    Config.validate({
      message: `ADMIN_API_KEY must be at least ${AdminApiKeyMinChars} characters (e.g. openssl rand -base64 32), or unset`,
      validation: (key) => Redacted.value(key) === "" || Redacted.value(key).length >= AdminApiKeyMinChars
    }),
    Config.option,
    Config.map(Option.filter((key) => Redacted.value(key) !== ""))
  ),
  disabled: authDisabled,
  /** Keys in use (not revoked) at most: every one is held in memory and re-read each second. */
  keysMax: Config.integer("API_KEYS_MAX").pipe(
    Config.validate({ message: "Expected an integer from 1 to 100000", validation: (n) => n >= 1 && n <= 100_000 }),
    Config.withDefault(1_000)
  )
})

/**
 * How often each process re-reads the keys table: a key revoked by another process stops
 * working here within this (plus one query), well inside the 5 s promised.
 */
export const KeyRefreshInterval = "1 second"

const sha256 = (secret: string): Buffer => createHash("sha256").update(secret).digest()

/** A fresh secret: the prefix and 32 random bytes, so its SHA-256 alone is safe to store. */
const newSecret = () => `${ApiKeyPrefix}${randomBytes(32).toString("base64url")}`

interface Entry {
  readonly hash: Buffer
  readonly caller: Caller
}

/** The unrevoked keys by the hex of their hash: all a request needs, without the database. */
const tableOf = (rows: ReadonlyArray<ApiKeyRow>): ReadonlyMap<string, Entry> =>
  new Map(
    rows.filter((row) => row.revokedAt === null).map((row) => {
      const hash = Buffer.from(row.keyHash)
      return [hash.toString("hex"), { hash, caller: { keyId: row.id, name: row.name, scopes: row.scopes } }] as const
    })
  )

const infoOf = (row: ApiKeyRow) =>
  new ApiKeyInfo({ keyId: row.id, name: row.name, scopes: row.scopes, createdAt: row.createdAt, revokedAt: row.revokedAt })

const adminCaller: Caller = { keyId: null, name: "ADMIN_API_KEY", scopes: ["admin"] }
const anyoneCaller: Caller = { keyId: null, name: "AUTH_DISABLED", scopes: ["admin"] }

/**
 * The API keys: their use cases and the in-memory table every request is checked against.
 * A request never asks the database: the table is re-read when it changes (polled every
 * KeyRefreshInterval), and at once after this process creates or revokes a key.
 */
export class ApiKeys extends Effect.Service<ApiKeys>()("ApiKeys", {
  scoped: Effect.gen(function*() {
    const repository = yield* ApiKeyRepository
    const config = yield* AuthConfig
    const keyFile = yield* AdminKeyFile
    const adminHash = Option.map(config.adminApiKey, (key) => sha256(Redacted.value(key)))

    if (config.disabled) {
      yield* Effect.logWarning(
        "AUTH_DISABLED is set: every request is served without an API key, with admin rights. Never do this in production."
      )
    } else if (Option.isNone(adminHash)) {
      yield* createFirstAdminKey(repository, keyFile)
    }

    const table = yield* Ref.make(tableOf(yield* repository.all))
    const seen = yield* Ref.make<TableVersion | undefined>(undefined)
    // One reload at a time: a poll's read that began before a revocation must not land after the
    // revoking request's own reload and bring the key back.
    const reloading = yield* Effect.makeSemaphore(1)
    const reload = reloading.withPermits(1)(Effect.flatMap(repository.all, (rows) => Ref.set(table, tableOf(rows))))

    // Re-reads the table when its version moved. A database that does not answer keeps the
    // last table (a revocation elsewhere then waits for it), said once per outage; the next
    // tick tries again.
    const failing = yield* Ref.make(false)
    const refresh = repository.version.pipe(
      Effect.flatMap((version) =>
        Effect.flatMap(Ref.get(seen), (last) =>
          last !== undefined && last.keys === version.keys && last.revoked === version.revoked
            ? Effect.void
            : reload.pipe(Effect.zipRight(Ref.set(seen, version))))
      ),
      Effect.zipRight(
        Effect.flatMap(Ref.getAndSet(failing, false), (was) => was ? Effect.logInfo("API keys refreshed again") : Effect.void)
      ),
      Effect.catchAllCause((cause) =>
        Effect.flatMap(
          Ref.getAndSet(failing, true),
          (was) => was ? Effect.void : Effect.logWarning("Cannot refresh the API keys; serving the last table read", cause)
        )
      )
    )
    // A poll every second that finds nothing new almost always: with traces exported it would be
    // a trace of its own every second, so it is never traced.
    yield* Effect.forkScoped(Effect.repeat(refresh, Schedule.spaced(KeyRefreshInterval)).pipe(Effect.withTracerEnabled(false)))

    /**
     * The caller behind a bearer token. The token's SHA-256 finds its entry; the hashes are
     * compared again in constant time, and so is ADMIN_API_KEY's.
     */
    const authenticate = (token: Redacted.Redacted): Effect.Effect<Caller, Unauthorized> => {
      if (config.disabled) return Effect.succeed(anyoneCaller)
      const secret = Redacted.value(token)
      if (secret === "") return Effect.fail(Unauthorized.instance)
      const hash = sha256(secret)
      if (Option.isSome(adminHash) && timingSafeEqual(adminHash.value, hash)) return Effect.succeed(adminCaller)
      return Effect.flatMap(Ref.get(table), (entries) => {
        const entry = entries.get(hash.toString("hex"))
        return entry !== undefined && timingSafeEqual(entry.hash, hash)
          ? Effect.succeed(entry.caller)
          : Effect.fail(Unauthorized.instance)
      })
    }

    /** The caller, if its key has the scope: 401 for no valid key, 403 for a key without it. */
    const authorize = (token: Redacted.Redacted, required: Scope): Effect.Effect<Caller, Unauthorized | Forbidden> =>
      Effect.flatMap(
        authenticate(token),
        (caller) => grants(caller.scopes, required) ? Effect.succeed(caller) : Effect.fail(Forbidden.of(required))
      )

    const create = Effect.fn("ApiKeys.create")(function*(request: NewApiKey) {
      const secret = newSecret()
      const inserted = yield* repository.insert({ name: request.name, scopes: request.scopes, keyHash: sha256(secret) }, config.keysMax)
      if (Option.isNone(inserted)) return yield* Effect.fail(ApiKeyLimit.of(config.keysMax))
      const row = inserted.value
      yield* reload
      yield* Effect.logInfo("API key created").pipe(Effect.annotateLogs({ keyId: row.id, name: row.name, scopes: row.scopes }))
      return new CreatedApiKey({ keyId: row.id, key: secret, name: row.name, scopes: row.scopes, createdAt: row.createdAt })
    })

    const list = Effect.map(repository.all, (rows) => new ApiKeyList({ items: rows.map(infoOf) })).pipe(
      Effect.withSpan("ApiKeys.list")
    )

    /** Revoked at once here; other processes see it at their next refresh. Revoking twice is harmless. */
    const revoke = Effect.fn("ApiKeys.revoke")(function*(keyId: ApiKeyId) {
      const row = yield* repository.revoke(keyId)
      if (Option.isNone(row)) return yield* ApiKeyNotFound.of(keyId)
      yield* reload
      yield* Effect.logInfo("API key revoked").pipe(Effect.annotateLogs({ keyId, name: row.value.name }))
      return infoOf(row.value)
    })

    return { authenticate, authorize, create, list, revoke } as const
  })
}) {}

/**
 * Without ADMIN_API_KEY, a service whose table has no key at all would have nobody to make the
 * first: the first start makes an admin key, says it once in the log, and with the embedded
 * database keeps it in a 0600 file. Concurrent first starts make one between them.
 */
const createFirstAdminKey = (repository: ApiKeyRepository, keyFile: Option.Option<string>) =>
  Effect.gen(function*() {
    const secret = newSecret()
    const created = yield* repository.insertFirst({ name: "first admin key", scopes: ["admin"], keyHash: sha256(secret) })
    if (Option.isNone(created)) return
    // The key is logged whatever happens to the file: a start that failed here would leave a
    // stored key nobody was ever shown.
    const written = yield* Option.match(keyFile, {
      onNone: () => Effect.succeed(""),
      onSome: (path) =>
        Effect.tryPromise(async () => {
          await mkdir(dirname(path), { recursive: true, mode: 0o700 })
          await writeFile(path, `${secret}\n`, { mode: 0o600 })
          // writeFile's mode applies only to a new file; one left from an earlier database keeps its own.
          await chmod(path, 0o600)
        }).pipe(
          Effect.match({
            onSuccess: () => ` (also written to ${path}, mode 0600)`,
            onFailure: (error) => ` (could not be written to ${path}: ${String(error.cause)})`
          })
        )
    })
    yield* Effect.logWarning(
      `Created the first admin API key (shown this once, store it now): ${secret}${written}`
    ).pipe(
      Effect.annotateLogs({ keyId: created.value.id }),
      // Shown whatever LOG_LEVEL says: this line may be the only copy of the key.
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })

/** `keys create --bootstrap` on a database that already has a key: an admin key makes the next ones. */
export class KeysExist extends Data.TaggedError("KeysExist")<{}> {
  override get message() {
    return "The database already has API keys, so there is no first admin key to make: use an admin key " +
      "(or start the service once with ADMIN_API_KEY) and create one with `dino-wallet keys create --scope admin`"
  }
}

/**
 * The operator's way to the first admin key without reading a log line: made straight in the
 * database, only while it has no key at all (under the same lock as the service's first start,
 * so the two never make two), and answered once, as `POST /api/keys` answers.
 */
export const bootstrapAdminKey = Effect.gen(function*() {
  const repository = yield* ApiKeyRepository
  const secret = newSecret()
  const created = yield* repository.insertFirst({ name: "first admin key (bootstrap)", scopes: ["admin"], keyHash: sha256(secret) })
  if (Option.isNone(created)) return yield* new KeysExist()
  const row = created.value
  return new CreatedApiKey({ keyId: row.id, key: secret, name: row.name, scopes: row.scopes, createdAt: row.createdAt })
})
