import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import * as Schema from "effect/Schema"
import { ApiKeyId, ApiKeyInfo, CallerInfo, ApiKeyLimit, ApiKeyList, ApiKeyNotFound, CreatedApiKey, NewApiKey } from "../domain/ApiKey.ts"
import { Asset, AssetExists, AssetList, AssetNotFound, AssetPath, AssetUpdate, MaxDebtInUse, NewAsset } from "../domain/Asset.ts"
import { AllBalances, AssetBalance, BalanceQuery } from "../domain/Balance.ts"
import { HistoryLimitDefault, HistoryLimitMax, HistoryOffsetMax, HistoryPage, HistoryQuery } from "../domain/History.ts"
import {
  Health,
  InternalError,
  Liveness,
  MalformedJson,
  MethodNotAllowed,
  PayloadTooLarge,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType,
  ValidationError
} from "../domain/Http.ts"
import {
  CaptureExceedsHold,
  CaptureRequest,
  Hold,
  HoldNotActive,
  HoldNotFound,
  HoldList,
  HoldListLimitDefault,
  HoldListLimitMax,
  HoldListQuery,
  HoldPath,
  HoldReceipt,
  HoldRequest,
  HoldSecondsDefault,
  HoldSecondsMax,
  SettlementReceipt,
  VoidRequest
} from "../domain/Hold.ts"
import {
  IdempotencyHeaders,
  IdempotencyKeyConflict,
  IdempotencyKeyMissing,
  IdempotencyKeyReused
} from "../domain/Idempotency.ts"
import { AlreadyReversed, NotReversible, ReversalReceipt, ReversalRequest } from "../domain/Reversal.ts"
import { BalanceLimit, DebtLimit, InsufficientFunds, Receipt, WriteRequest } from "../domain/Transaction.ts"
import { TransactionNotFound, TransactionPage, TransactionPath, TransactionDetail, TransactionQuery } from "../domain/Lookup.ts"
import { Reconciliation } from "../domain/Reconciliation.ts"
import { LegsMax, MultiLegReceipt, MultiLegRequest, TransferReceipt, TransferRequest } from "../domain/Transfer.ts"
import {
  NewUser,
  SameWallet,
  SystemAccount,
  User,
  UserIdFromString,
  UserNotFound,
  UserProfile,
  UserQuery,
  UsernameNotFound,
  UsernameTaken
} from "../domain/User.ts"
import { BulkItemsMax, BulkWriteRequest, BulkWriteResult, Overloaded } from "../domain/Bulk.ts"
import { needsAdmin, needsKey, needsRead, needsWrite } from "./Auth.ts"
import { EventsApi } from "./EventsApi.ts"
import { WebhooksApi } from "./WebhooksApi.ts"

/**
 * The contract. The server, the OpenAPI document and the typed client are all derived from
 * this module, so a change here is a change to all three.
 */

const UserPath = Schema.Struct({ userId: UserIdFromString })

/**
 * HttpApi lists its built-in HttpApiDecodeError under every 400, but the edge middleware
 * (EdgeErrors.ts) answers schema failures with ValidationError instead, so the document drops
 * it to describe what clients really receive.
 */
function withoutDecodeError(spec: Record<string, any>): Record<string, any> {
  const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"
  for (const operations of Object.values<Record<string, any>>(spec.paths ?? {})) {
    for (const operation of Object.values<Record<string, any>>(operations)) {
      const badRequest = operation?.responses?.["400"]
      const schema = badRequest?.content?.["application/json"]?.schema
      if (schema === undefined) continue
      badRequest.description = "The request is malformed or does not match the contract"
      if (Array.isArray(schema.anyOf)) {
        schema.anyOf = schema.anyOf.filter((s: { $ref?: string }) => s.$ref !== decodeErrorRef)
      } else if (schema.$ref === decodeErrorRef) {
        badRequest.content["application/json"].schema = { $ref: "#/components/schemas/ValidationError" }
      }
    }
  }
  // Drop it and the schemas only it used (its Issue, PropertyKey).
  const schemas: Record<string, unknown> = spec.components?.schemas ?? {}
  delete schemas.HttpApiDecodeError
  let removed = true
  while (removed) {
    const text = JSON.stringify(spec)
    const orphans = Object.keys(schemas).filter((name) => !text.includes(`"#/components/schemas/${name}"`))
    for (const name of orphans) delete schemas[name]
    removed = orphans.length > 0
  }
  return spec
}

/**
 * Every error body also names its request (`requestId`, as in the X-Request-Id response
 * header). The edge adds it to the encoded body (RequestId.ts), so the error classes stay free
 * of HTTP and the typed client, which ignores excess properties, decodes them as before; the
 * document lists it on every error schema (those with a `code`).
 */
function withRequestIdField(spec: Record<string, any>): Record<string, any> {
  for (const schema of Object.values<Record<string, any>>(spec.components?.schemas ?? {})) {
    if (schema?.properties?.code === undefined) continue
    schema.properties.requestId = {
      type: "string",
      description: "The request's X-Request-Id (the client's, if at most 128 of [A-Za-z0-9._:-], else a UUID)"
    }
    schema.required = [...(schema.required ?? []), "requestId"]
  }
  return spec
}

/** Says in each operation's description the scope its `x-required-scope` names (Auth.ts). */
function withScopeText(spec: Record<string, any>): Record<string, any> {
  for (const operations of Object.values<Record<string, any>>(spec.paths ?? {})) {
    for (const operation of Object.values<Record<string, any>>(operations)) {
      const scope = operation?.["x-required-scope"]
      if (typeof scope !== "string") continue
      const text = scope === "any"
        ? "Needs a valid API key, whatever its scopes."
        : scope === "admin"
        ? "Needs an API key with the admin scope."
        : `Needs an API key with the ${scope} scope (or admin).`
      operation.description = operation.description === undefined ? text : `${operation.description} ${text}`
    }
  }
  return spec
}

/** topup, bonus and spend share one shape; only their direction and name differ. */
const write = <const Name extends string>(name: Name, summary: string) =>
  HttpApiEndpoint.post(name, `/wallets/${name}`)
    .setPayload(WriteRequest)
    .setHeaders(IdempotencyHeaders)
    .addSuccess(Receipt, { status: 201 })
    .addError(IdempotencyKeyMissing)
    .addError(IdempotencyKeyConflict)
    .addError(IdempotencyKeyReused)
    .addError(UserNotFound)
    .addError(AssetNotFound)
    .addError(SystemAccount)
    .addError(BalanceLimit)
    .pipe(needsWrite)
    .annotate(OpenApi.Summary, summary)
    .annotate(
      OpenApi.Description,
      "Applies at most once per idempotency key (body idempotencyKey or Idempotency-Key header). " +
        "A repeat with the same body returns the first response again with the header Idempotent-Replayed: true; " +
        "the same key with a different body is 422 IDEMPOTENCY_KEY_REUSED."
    )

export class WalletsApi extends HttpApiGroup.make("wallets")
  .annotate(
    OpenApi.Description,
    "Players' balances and history, and the single-asset writes: topups, bonuses, spends, transfers and bulk batches of them."
  )
  .add(write("topup", "Credit a player with purchased currency, drawn from the treasury"))
  .add(write("bonus", "Grant a player free currency, drawn from the treasury"))
  .add(write("spend", "Debit a player for an in-app purchase, paid to the treasury").addError(InsufficientFunds))
  .add(
    HttpApiEndpoint.post("transfer", "/wallets/transfer")
      .setPayload(TransferRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(TransferReceipt, { status: 201 })
      .addError(IdempotencyKeyMissing)
      .addError(IdempotencyKeyConflict)
      .addError(IdempotencyKeyReused)
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .addError(SameWallet)
      .addError(SystemAccount)
      .addError(InsufficientFunds)
      .addError(BalanceLimit)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, "Move one asset from one player to another")
      .annotate(
        OpenApi.Description,
        "Idempotent as every write (body idempotencyKey or Idempotency-Key header; a replay returns the first " +
          "response with Idempotent-Replayed: true). 422 SAME_WALLET when fromUserId = toUserId, 422 SYSTEM_ACCOUNT when " +
          "either side is a system account (the treasury, the escrow or any other), 409 INSUFFICIENT_FUNDS when the sender's balance is short (stored under the key)."
      )
  )
  .add(
    HttpApiEndpoint.post("bulk", "/wallets/batch")
      .setPayload(BulkWriteRequest)
      .addSuccess(BulkWriteResult)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, `Up to ${BulkItemsMax} topups, bonuses and spends in one request`)
      .annotate(
        OpenApi.Description,
        "Each item is independent and idempotent under its own idempotencyKey (required here). The results " +
          "come in item order, each with the status and body its single endpoint would have answered " +
          "(201 receipt, 409, 422, 404, or 503 if the server shut down under it). A malformed item is a 400 for " +
          "the whole request, naming its index, and nothing is applied. Bodies up to 1 MiB."
      )
  )
  .add(
    HttpApiEndpoint.get("balance", "/wallets/:userId/balance")
      .setPath(UserPath)
      .setUrlParams(BalanceQuery)
      .addSuccess(Schema.Union(AssetBalance, AllBalances))
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "One balance with assetCode, else every asset's")
  )
  .add(
    HttpApiEndpoint.get("history", "/wallets/:userId/transactions")
      .setPath(UserPath)
      .setUrlParams(HistoryQuery)
      .addSuccess(HistoryPage)
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "Ledger entries of a user, newest first")
      .annotate(
        OpenApi.Description,
        `limit is 1 to ${HistoryLimitMax} (default ${HistoryLimitDefault}); offset is 0 to ${HistoryOffsetMax} ` +
          "(default 0), since deep offsets make the database walk and discard rows: past it, page with cursor, " +
          "the opaque nextCursor of the previous page, which never skips or repeats an entry while new ones arrive."
      )
  )
{}

export class UsersApi extends HttpApiGroup.make("users")
  .annotate(OpenApi.Description, "Registering players (idempotent on the username) and finding them by id or by name.")
  .add(
    HttpApiEndpoint.post("create", "/users")
      .setPayload(NewUser)
      .addSuccess(User, { status: 201 })
      .addError(UsernameTaken)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, "Register a player, with an empty wallet per asset")
      .annotate(
        OpenApi.Description,
        "Idempotent on the username, which names one player: registering a name that is already a player's, " +
          "spelled the same, answers 201 with that player and the header Idempotent-Replayed: true, so a " +
          "registration whose answer was lost can be sent again. 409 USERNAME_TAKEN for a name that differs from a " +
          "taken one only in case, and for a system account's name."
      )
  )
  .add(
    HttpApiEndpoint.get("find", "/users")
      .setUrlParams(UserQuery)
      .addSuccess(UserProfile)
      .addError(UsernameNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "Find a user by username, whatever its case")
      .annotate(OpenApi.Description, "404 USER_NOT_FOUND when no user has the name (usernames are unique by lower case).")
  )
  .add(
    HttpApiEndpoint.get("get", "/users/:userId")
      .setPath(UserPath)
      .addSuccess(UserProfile)
      .addError(UserNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "A user by id: name, kind (USER or SYSTEM) and when it was registered")
  )
{}

export class TransactionsApi extends HttpApiGroup.make("transactions")
  .annotate(
    OpenApi.Description,
    "Multi-leg transactions, reversals, and finding a transaction again by id, by user or by metadata."
  )
  .add(
    HttpApiEndpoint.post("create", "/transactions")
      .setPayload(MultiLegRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(MultiLegReceipt, { status: 201 })
      .addError(IdempotencyKeyMissing)
      .addError(IdempotencyKeyConflict)
      .addError(IdempotencyKeyReused)
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .addError(SameWallet)
      .addError(SystemAccount)
      .addError(InsufficientFunds)
      .addError(BalanceLimit)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, `A multi-leg transaction: 1 to ${LegsMax} legs applied in order, all or none`)
      .annotate(
        OpenApi.Description,
        "Each leg moves an amount of one asset from one user to another; the treasury (user 1) may be a side (any other " +
          "system account, the escrow included, is 422 SYSTEM_ACCOUNT with the leg's legIndex), legs may " +
          "move several assets and touch a wallet more than once, and each leg sees the balances the previous legs left. " +
          "A refused leg writes nothing, and the error names it with legIndex (from 0). Idempotent as every write."
      )
  )
  .add(
    HttpApiEndpoint.post("reverse", "/transactions/:transactionId/reversal")
      .setPath(TransactionPath)
      .setPayload(ReversalRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(ReversalReceipt, { status: 201 })
      .addError(IdempotencyKeyMissing)
      .addError(IdempotencyKeyConflict)
      .addError(IdempotencyKeyReused)
      .addError(TransactionNotFound)
      .addError(NotReversible)
      .addError(AlreadyReversed)
      .addError(InsufficientFunds)
      .addError(DebtLimit)
      .addError(BalanceLimit)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, "Reverse a transaction: a new REVERSAL transaction that mirrors its legs")
      .annotate(
        OpenApi.Description,
        "The original is never edited. Topups, bonuses, spends, transfers and multi-leg transactions are reversible " +
          "(422 NOT_REVERSIBLE for opening balances and reversals); a one-leg transaction may be reversed in part " +
          "(amount, default what is left), a multi-leg one only whole. Reversals of one transaction never exceed it: " +
          "409 ALREADY_REVERSED. A player who no longer has the coins: 409 INSUFFICIENT_FUNDS, unless allowDebt, which " +
          "lets the balance go below zero down to minus the asset's maxDebt (409 DEBT_LIMIT past it). Idempotent as every write."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/transactions/:transactionId")
      .setPath(TransactionPath)
      .addSuccess(TransactionDetail)
      .addError(TransactionNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "One transaction with its legs and every ledger entry")
  )
  .add(
    HttpApiEndpoint.get("search", "/transactions")
      .setUrlParams(TransactionQuery)
      .addSuccess(TransactionPage)
      .addError(UserNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "Transactions by user or by metadata, newest first, filtered by asset, type and time")
      .annotate(
        OpenApi.Description,
        "userId, or at least one metadata[KEY]=VALUE pair (every one must be in the transaction's metadata), is required: " +
          "a search by user walks that user's wallets' indexes, a search by metadata alone the GIN index on metadata. " +
          `limit is 1 to ${HistoryLimitMax} (default ${HistoryLimitDefault}); from is inclusive, to exclusive; page with ` +
          "cursor, the opaque nextCursor of the previous page (null on the last)."
      )
  )
{}

const holdWrite = "Idempotent as every write (body idempotencyKey or Idempotency-Key header; a replay returns the first " +
  "response with Idempotent-Replayed: true)."

export class HoldsApi extends HttpApiGroup.make("holds")
  .annotate(OpenApi.Description, "Reserving part of a balance in escrow until it is captured, voided or expires.")
  .add(
    HttpApiEndpoint.post("create", "/holds")
      .setPayload(HoldRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(HoldReceipt, { status: 201 })
      .addError(IdempotencyKeyMissing)
      .addError(IdempotencyKeyConflict)
      .addError(IdempotencyKeyReused)
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .addError(SystemAccount)
      .addError(InsufficientFunds)
      .addError(BalanceLimit)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, "Hold part of a player's balance until it is captured, voided or expires")
      .annotate(
        OpenApi.Description,
        `The amount leaves the spendable balance at once (409 INSUFFICIENT_FUNDS otherwise) into escrow, a HOLD ` +
          `transaction. expiresInSeconds: 1 to ${HoldSecondsMax} (default ${HoldSecondsDefault}); within 5 seconds of ` +
          `expiresAt the service releases the hold itself (status EXPIRED, a RELEASE transaction). ${holdWrite}`
      )
  )
  .add(
    HttpApiEndpoint.post("capture", "/holds/:holdId/capture")
      .setPath(HoldPath)
      .setPayload(CaptureRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(SettlementReceipt, { status: 201 })
      .addError(IdempotencyKeyMissing)
      .addError(IdempotencyKeyConflict)
      .addError(IdempotencyKeyReused)
      .addError(HoldNotFound)
      .addError(HoldNotActive)
      .addError(CaptureExceedsHold)
      .addError(UserNotFound)
      .addError(SystemAccount)
      .addError(BalanceLimit)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, "Capture a hold: the amount (default all) to toUserId (default the treasury), the rest back")
      .annotate(
        OpenApi.Description,
        "A CAPTURE transaction: leg 0 pays the captured amount to its receiver, leg 1 (if any) the rest back to the " +
          "player. 409 HOLD_NOT_ACTIVE once the hold is settled or past expiresAt (stored under the key); 422 " +
          `CAPTURE_EXCEEDS_HOLD for more than it holds. ${holdWrite}`
      )
  )
  .add(
    HttpApiEndpoint.post("void", "/holds/:holdId/void")
      .setPath(HoldPath)
      .setPayload(VoidRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(SettlementReceipt)
      .addError(IdempotencyKeyMissing)
      .addError(IdempotencyKeyConflict)
      .addError(IdempotencyKeyReused)
      .addError(HoldNotFound)
      .addError(HoldNotActive)
      .addError(BalanceLimit)
      .pipe(needsWrite)
      .annotate(OpenApi.Summary, "Void a hold: all of it returns to the player")
      .annotate(
        OpenApi.Description,
        `A RELEASE transaction. 409 HOLD_NOT_ACTIVE once the hold is settled or past expiresAt. ${holdWrite}`
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/holds")
      .setUrlParams(HoldListQuery)
      .addSuccess(HoldList)
      .addError(UserNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "A player's holds, newest first")
      .annotate(
        OpenApi.Description,
        `All of them, or those of one status (HELD, CAPTURED, VOIDED, EXPIRED); limit 1 to ${HoldListLimitMax}, default ` +
          `${HoldListLimitDefault}. 404 USER_NOT_FOUND for an unknown user.`
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/holds/:holdId")
      .setPath(HoldPath)
      .addSuccess(Hold)
      .addError(HoldNotFound)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "A hold as it stands")
  )
{}

export class AssetsApi extends HttpApiGroup.make("assets")
  .annotate(OpenApi.Description, "The currencies the ledger holds.")
  .add(
    HttpApiEndpoint.get("list", "/assets")
      .addSuccess(AssetList)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "Every currency the ledger holds, by code")
  )
  .add(
    HttpApiEndpoint.post("create", "/assets")
      .setPayload(NewAsset)
      .addSuccess(Asset, { status: 201 })
      .addError(AssetExists)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Add a currency; the treasury gets its wallet at once, players on their first write")
      .annotate(
        OpenApi.Description,
        "code: 1 to 32 of A-Z, 0-9 and '_', starting with a letter; name: 1 to 100 characters; maxDebt (default 0): " +
          "how far below zero a reversal that allows debt may take a player's balance. 409 ASSET_EXISTS if the code is taken."
      )
  )
  .add(
    HttpApiEndpoint.patch("update", "/assets/:code")
      .setPath(AssetPath)
      .setPayload(AssetUpdate)
      .addSuccess(Asset)
      .addError(AssetNotFound)
      .addError(MaxDebtInUse)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Rename a currency or change its maxDebt")
      .annotate(
        OpenApi.Description,
        "name (1 to 100 characters), maxDebt (0 to 9007199254740991) or both; the code never changes. " +
          "The new maxDebt applies to every wallet of the asset at once; a lower maxDebt than a player already owes is 409 MAX_DEBT_IN_USE."
      )
  )
{}

export class ReconciliationApi extends HttpApiGroup.make("reconciliation")
  .annotate(
    OpenApi.Description,
    "The ledger's self-check: every asset sums to zero and every wallet equals its entries."
  )
  .add(
    HttpApiEndpoint.get("reconcile", "/reconciliation")
      .addSuccess(Reconciliation)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Check that every asset sums to zero and every wallet equals its entries")
      .annotate(
        OpenApi.Description,
        "One read-only statement over the whole ledger (one snapshot, one pass over the entries), one at a time per " +
          "instance, cancelled after RECONCILIATION_TIMEOUT (503). ok is true only when every asset's balances sum to 0 " +
          "and no wallet's balance differs from its credits minus its debits; up to 100 mismatched wallets are listed per asset."
      )
  )
{}

export class HealthApi extends HttpApiGroup.make("health")
  .annotate(OpenApi.Description, "Liveness and readiness probes; they need no key.")
  .add(
    HttpApiEndpoint.get("check", "/health")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "200 while the database answers, else 503")
  )
  .add(
    HttpApiEndpoint.get("live", "/health/live")
      .addSuccess(Liveness)
      .annotate(OpenApi.Summary, "200 while the process answers; the database is not asked")
      .annotate(
        OpenApi.Description,
        "For liveness probes and the container HEALTHCHECK: a database outage does not make it fail, so it does " +
          "not get every instance restarted. It answers during a shutdown's drain too."
      )
  )
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "200 when the database answers and the service is not draining, else 503")
      .annotate(
        OpenApi.Description,
        "For readiness probes and load balancers: 503 SERVICE_UNAVAILABLE with status \"unavailable\" while the " +
          "database does not answer, \"shutting_down\" once SIGTERM has started the drain."
      )
  )
{}

export class MetricsApi extends HttpApiGroup.make("metrics")
  .annotate(OpenApi.Description, "Counters and latency histograms for Prometheus.")
  .add(
    HttpApiEndpoint.get("scrape", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4" }))
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "Counters and latency histograms in the Prometheus text format")
  )
{}

const KeyPath = Schema.Struct({ keyId: ApiKeyId })

export class KeysApi extends HttpApiGroup.make("keys")
  .annotate(OpenApi.Description, "API keys and their scopes (read, write, admin).")
  .add(
    HttpApiEndpoint.post("create", "/keys")
      .setPayload(NewApiKey)
      .addSuccess(CreatedApiKey, { status: 201 })
      .addError(ApiKeyLimit)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Create an API key; its secret is in this answer only")
      .annotate(
        OpenApi.Description,
        "The key is 32 random bytes after the prefix dwk_; the service keeps only its SHA-256, so it cannot show it again."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/keys")
      .addSuccess(ApiKeyList)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Every API key, revoked ones included, without secrets")
  )
  .add(
    HttpApiEndpoint.del("revoke", "/keys/:keyId")
      .setPath(KeyPath)
      .addSuccess(ApiKeyInfo)
      .addError(ApiKeyNotFound)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Revoke an API key")
      .annotate(
        OpenApi.Description,
        "Refused at once by this instance and within 5 seconds by every other instance on the same database. " +
          "Revoking a revoked key answers it again, with the first revokedAt."
      )
  )
{}

export class AuthApi extends HttpApiGroup.make("auth")
  .annotate(OpenApi.Description, "What the calling API key is and may do.")
  .add(
    HttpApiEndpoint.get("whoami", "/auth/whoami")
      .addSuccess(CallerInfo)
      .pipe(needsKey)
      .annotate(OpenApi.Summary, "The calling API key: its id, name and scopes")
      .annotate(
        OpenApi.Description,
        "For clients that adapt to what their key may do, such as the support console at /console, which shows no " +
          "write buttons to a key without the write scope."
      )
  )
{}

export class WalletApi extends HttpApi.make("dino-wallet")
  .add(WalletsApi)
  .add(UsersApi)
  .add(TransactionsApi)
  .add(HoldsApi)
  .add(AssetsApi)
  .add(ReconciliationApi)
  .add(HealthApi)
  .add(MetricsApi)
  .add(KeysApi)
  .add(AuthApi)
  .add(EventsApi)
  .add(WebhooksApi)
  .prefix("/api")
  .addError(ValidationError)
  .addError(MalformedJson)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(RouteNotFound)
  .addError(MethodNotAllowed)
  .addError(ServiceUnavailable)
  .addError(Overloaded)
  .addError(InternalError)
  .annotate(OpenApi.Transform, (spec) => withScopeText(withRequestIdField(withoutDecodeError(spec))))
  .annotate(OpenApi.Title, "Dino Wallet")
  .annotate(OpenApi.Version, "1.0.0")
  // No licence is granted yet: the document says so rather than naming one the project never chose.
  .annotate(OpenApi.License, { name: "UNLICENSED" })
  // Relative, so the docs page and generated clients address whichever host serves the document.
  .annotate(OpenApi.Servers, [{ url: "/", description: "The service that serves this document" }])
  .annotate(
    OpenApi.Description,
    "Double-entry wallet for virtual currencies. Every write takes an idempotency key and applies exactly once. " +
      "Every response carries an x-request-id header (the request's X-Request-Id if it is at most 128 of " +
      "[A-Za-z0-9._:-], else a fresh UUID), and every error body has it as requestId. Every endpoint but the " +
      "health probes needs an API key (Authorization: Bearer <key>) with the scope it names: 401 UNAUTHORIZED " +
      "without a valid key, 403 FORBIDDEN without the scope."
  )
{}
