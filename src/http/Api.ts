import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import * as Schema from "effect/Schema"
import { AssetNotFound } from "../domain/Asset.ts"
import { AllBalances, AssetBalance, BalanceQuery } from "../domain/Balance.ts"
import { HistoryPage, HistoryQuery } from "../domain/History.ts"
import {
  Health,
  InternalError,
  MalformedJson,
  MethodNotAllowed,
  PayloadTooLarge,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType,
  ValidationError
} from "../domain/Http.ts"
import {
  IdempotencyHeaders,
  IdempotencyKeyConflict,
  IdempotencyKeyMissing,
  IdempotencyKeyReused
} from "../domain/Idempotency.ts"
import { BalanceLimit, InsufficientFunds, Receipt, WriteRequest } from "../domain/Transaction.ts"
import { NewUser, SystemAccount, User, UserIdFromString, UserNotFound, UsernameTaken } from "../domain/User.ts"

/**
 * The contract. The server, the OpenAPI document and the typed client are all derived from
 * this module, so a change here is a change to all three.
 */

const UserPath = Schema.Struct({ userId: UserIdFromString })

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
    .annotate(OpenApi.Summary, summary)

export class WalletsApi extends HttpApiGroup.make("wallets")
  .add(write("topup", "Credit a player with purchased currency, drawn from the treasury"))
  .add(write("bonus", "Grant a player free currency, drawn from the treasury"))
  .add(write("spend", "Debit a player for an in-app purchase, paid to the treasury").addError(InsufficientFunds))
  .add(
    HttpApiEndpoint.get("balance", "/wallets/:userId/balance")
      .setPath(UserPath)
      .setUrlParams(BalanceQuery)
      .addSuccess(Schema.Union(AssetBalance, AllBalances))
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .annotate(OpenApi.Summary, "One balance with assetCode, else every asset's")
  )
  .add(
    HttpApiEndpoint.get("history", "/wallets/:userId/transactions")
      .setPath(UserPath)
      .setUrlParams(HistoryQuery)
      .addSuccess(HistoryPage)
      .addError(UserNotFound)
      .addError(AssetNotFound)
      .annotate(OpenApi.Summary, "Ledger entries of a user, newest first")
  )
{}

export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.post("create", "/users")
      .setPayload(NewUser)
      .addSuccess(User, { status: 201 })
      .addError(UsernameTaken)
      .annotate(OpenApi.Summary, "Register a player, with an empty wallet per asset")
  )
{}

export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("check", "/health")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "200 while the database answers, else 503")
  )
{}

export class WalletApi extends HttpApi.make("dino-wallet")
  .add(WalletsApi)
  .add(UsersApi)
  .add(HealthApi)
  .prefix("/api")
  .addError(ValidationError)
  .addError(MalformedJson)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(RouteNotFound)
  .addError(MethodNotAllowed)
  .addError(ServiceUnavailable)
  .addError(InternalError)
  .annotate(OpenApi.Title, "Dino Wallet")
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(
    OpenApi.Description,
    "Double-entry wallet for virtual currencies. Every write takes an idempotency key and applies exactly once."
  )
{}
