import { Args, Command, Options } from "@effect/cli"
import {
  ApiKeyId,
  AssetPath,
  AssetUpdate,
  HistoryQuery,
  NewApiKey,
  NewAsset,
  NewUser,
  ReversalRequest,
  TransactionId,
  UserId,
  Username,
  WriteRequest
} from "@dino-wallet/client"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { bootstrapKey } from "./Bootstrap.ts"
import { CliFailure, client, decode, explained, print } from "./Cli.ts"
import { events } from "./Events.ts"

const userIdArg = Args.integer({ name: "userId" }).pipe(Args.withDescription("The player's id"))
const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)
const idempotencyKey = optionalText("idempotency-key", "The write's key (default: a fresh UUID)")
const present = <A>(option: Option.Option<A>, key: string) => Option.match(option, { onNone: () => ({}), onSome: (value) => ({ [key]: value }) })

// keys ------------------------------------------------------------------------------------------

const keysCreate = Command.make("create", {
  name: Options.text("name").pipe(Options.withDefault("made by dino-wallet")),
  scopes: Options.choice("scope", ["read", "write", "admin"]).pipe(Options.repeated),
  bootstrap: Options.boolean("bootstrap").pipe(
    Options.withDescription("Make the first admin key straight in the database (DATABASE_URL or the embedded one in .data/), which must have none")
  )
}, ({ bootstrap, name, scopes }) =>
  Effect.gen(function*() {
    if (bootstrap) {
      const first = yield* bootstrapKey
      return yield* print(first, () => `${first.key}\n(key id ${first.keyId}, scopes admin; shown this once)`)
    }
    const wallet = yield* client
    const payload = yield* decode(NewApiKey, { name, scopes: scopes.length === 0 ? ["read"] : scopes })
    const created = yield* wallet.keys.create({ payload })
    yield* print(created, () => `${created.key}\n(key id ${created.keyId}, scopes ${created.scopes.join(",")}; shown this once)`)
  }).pipe(explained)).pipe(Command.withDescription("Create an API key (admin); prints its secret once"))

const keysList = Command.make("list", {}, () =>
  Effect.gen(function*() {
    const wallet = yield* client
    const list = yield* wallet.keys.list()
    yield* print(list, () =>
      list.items.map((k) => `${k.keyId}  ${k.scopes.join(",").padEnd(16)} ${k.revokedAt === null ? "active " : "revoked"}  ${k.name}`).join("\n"))
  }).pipe(explained)).pipe(Command.withDescription("List API keys (admin)"))

const keysRevoke = Command.make("revoke", { keyId: Args.text({ name: "keyId" }) }, ({ keyId }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const revoked = yield* wallet.keys.revoke({ path: { keyId: yield* decode(ApiKeyId, keyId) } })
    yield* print(revoked, () => `revoked ${revoked.keyId} (${revoked.name}) at ${revoked.revokedAt?.toISOString()}`)
  }).pipe(explained)).pipe(Command.withDescription("Revoke an API key (admin)"))

// assets ----------------------------------------------------------------------------------------

const assetsList = Command.make("list", {}, () =>
  Effect.gen(function*() {
    const wallet = yield* client
    const list = yield* wallet.assets.list()
    yield* print(list, () => list.assets.map((a) => `${a.code.padEnd(20)} maxDebt ${String(a.maxDebt).padEnd(8)} ${a.name}`).join("\n"))
  }).pipe(explained)).pipe(Command.withDescription("List the currencies"))

const assetsCreate = Command.make("create", {
  code: Args.text({ name: "code" }),
  name: Options.text("name"),
  maxDebt: Options.integer("max-debt").pipe(Options.withDefault(0))
}, ({ code, maxDebt, name }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const created = yield* wallet.assets.create({ payload: yield* decode(NewAsset, { code, name, maxDebt }) })
    yield* print(created, () => `created ${created.code} (${created.name}, maxDebt ${created.maxDebt})`)
  }).pipe(explained)).pipe(Command.withDescription("Add a currency (admin)"))

const assetsUpdate = Command.make("update", {
  code: Args.text({ name: "code" }),
  name: optionalText("name", "The new name"),
  maxDebt: Options.integer("max-debt").pipe(
    Options.withDescription("The new maxDebt; refused (MAX_DEBT_IN_USE) below what a player already owes"),
    Options.optional
  )
}, ({ code, maxDebt, name }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const payload = yield* decode(AssetUpdate, { ...present(name, "name"), ...present(maxDebt, "maxDebt") })
    const updated = yield* wallet.assets.update({ path: yield* decode(AssetPath, { code }), payload })
    yield* print(updated, () => `${updated.code}: ${updated.name}, maxDebt ${updated.maxDebt}`)
  }).pipe(explained)).pipe(Command.withDescription("Rename a currency or change its maxDebt (admin); --name, --max-debt or both"))

// users -----------------------------------------------------------------------------------------

const usersCreate = Command.make("create", { username: Args.text({ name: "username" }) }, ({ username }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const user = yield* wallet.users.create({ payload: yield* decode(NewUser, { username }) })
    yield* print(user, () => `user ${user.userId} ${user.username}`)
  }).pipe(explained)).pipe(Command.withDescription("Register a player (idempotent on the name)"))

const usersFind = Command.make("find", { who: Args.text({ name: "username-or-id" }) }, ({ who }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const profile = /^[0-9]+$/.test(who)
      ? yield* wallet.users.get({ path: { userId: yield* decode(UserId, Number(who)) } })
      : yield* wallet.users.find({ urlParams: { username: yield* decode(Username, who) } })
    yield* print(profile, () => `user ${profile.userId} ${profile.username} (${profile.kind}, since ${profile.createdAt.toISOString()})`)
  }).pipe(explained)).pipe(Command.withDescription("Find a user by name (any case) or id"))

// reads -----------------------------------------------------------------------------------------

const balance = Command.make("balance", {
  userId: userIdArg,
  asset: optionalText("asset", "One asset's balance (default: every asset)")
}, ({ asset, userId }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const answer = yield* wallet.wallets.balance({
      path: { userId: yield* decode(UserId, userId) },
      urlParams: yield* decode(Schema.Struct({ assetCode: Schema.optional(WriteRequest.fields.assetCode) }), present(asset, "assetCode"))
    })
    const rows = "balances" in answer ? answer.balances : [answer]
    yield* print(answer, () => rows.map((b) => `${b.assetCode.padEnd(20)} ${String(b.balance).padStart(12)}  held ${b.held}`).join("\n"))
  }).pipe(explained)).pipe(Command.withDescription("A player's balances"))

const history = Command.make("history", {
  userId: userIdArg,
  asset: optionalText("asset", "Only this asset"),
  limit: Options.integer("limit").pipe(Options.withDefault(20)),
  cursor: optionalText("cursor", "nextCursor of the previous page")
}, ({ asset, cursor, limit, userId }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const page = yield* wallet.wallets.history({
      path: { userId: yield* decode(UserId, userId) },
      urlParams: yield* decode(HistoryQuery, { limit: String(limit), ...present(asset, "assetCode"), ...present(cursor, "cursor") })
    })
    yield* print(page, () =>
      [
        ...page.items.map((i) =>
          `${i.createdAt.toISOString()}  ${i.type.padEnd(9)} ${i.entryType.padEnd(6)} ${String(i.amount).padStart(10)} ${i.assetCode.padEnd(16)} -> ${i.balanceAfter}  ${i.transactionId}`
        ),
        page.nextCursor === null ? "(end)" : `(more: --cursor ${page.nextCursor})`
      ].join("\n"))
  }).pipe(explained)).pipe(Command.withDescription("A player's ledger entries, newest first"))

// writes ----------------------------------------------------------------------------------------

const reasonOption = optionalText("reason", "Why (stored in the transaction's metadata as reason)")

const write = (type: "topup" | "bonus" | "spend", description: string) =>
  Command.make(type, {
    userId: userIdArg,
    amount: Args.integer({ name: "amount" }),
    asset: Options.text("asset").pipe(Options.withDefault("GOLD_COINS")),
    reason: reasonOption,
    idempotencyKey
  }, ({ amount, asset, idempotencyKey, reason, userId }) =>
    Effect.gen(function*() {
      const wallet = yield* client
      const payload = yield* decode(WriteRequest, {
        userId,
        assetCode: asset,
        amount,
        ...present(idempotencyKey, "idempotencyKey"),
        ...Option.match(reason, { onNone: () => ({}), onSome: (text) => ({ metadata: { reason: text } }) })
      })
      const receipt = yield* wallet.wallets[type]({ payload, headers: {} })
      yield* print(receipt, () => `${receipt.type} ${receipt.amount} ${receipt.assetCode} user ${receipt.userId}: balance ${receipt.balance} (${receipt.transactionId})`)
    }).pipe(explained)).pipe(Command.withDescription(description))

const reverse = Command.make("reverse", {
  transactionId: Args.text({ name: "transactionId" }),
  amount: Options.integer("amount").pipe(Options.withDescription("Part of a one-leg transaction (default: what is left)"), Options.optional),
  allowDebt: Options.boolean("allow-debt"),
  reason: Options.text("reason").pipe(Options.withDescription("Why (required; stored in metadata as reason)")),
  idempotencyKey
}, ({ allowDebt, amount, idempotencyKey, reason, transactionId }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const payload = yield* decode(ReversalRequest, {
      ...present(amount, "amount"),
      allowDebt,
      metadata: { reason },
      ...present(idempotencyKey, "idempotencyKey")
    })
    const receipt = yield* wallet.transactions.reverse({ path: { transactionId: yield* decode(TransactionId, transactionId) }, payload, headers: {} })
    yield* print(receipt, () => `REVERSAL ${receipt.transactionId} of ${receipt.reverses}: ${receipt.legs.map((l) => `${l.amount} ${l.assetCode} ${l.fromUserId}->${l.toUserId}`).join(", ")}`)
  }).pipe(explained)).pipe(Command.withDescription("Reverse a transaction (a REVERSAL that mirrors it)"))

const reconcile = Command.make("reconcile", {}, () =>
  Effect.gen(function*() {
    const wallet = yield* client
    const report = yield* wallet.reconciliation.reconcile()
    yield* print(report, () =>
      [
        `${report.ok ? "ok" : "NOT OK"} at ${report.checkedAt.toISOString()}`,
        ...report.assets.map((a) => `${a.assetCode.padEnd(20)} sum ${a.sumOfBalances}  wallets ${a.wallets}  mismatched ${a.mismatchedWalletCount}`)
      ].join("\n"))
    if (!report.ok) return yield* new CliFailure({ message: "the ledger does not reconcile" })
  }).pipe(explained)).pipe(Command.withDescription("Check the ledger (admin); exit 1 when it does not reconcile"))

export const commands = [
  Command.make("keys").pipe(Command.withSubcommands([keysCreate, keysList, keysRevoke])),
  Command.make("assets").pipe(Command.withSubcommands([assetsList, assetsCreate, assetsUpdate])),
  Command.make("users").pipe(Command.withSubcommands([usersCreate, usersFind])),
  balance,
  history,
  write("topup", "Credit a player with purchased currency"),
  write("bonus", "Grant a player free currency"),
  write("spend", "Debit a player"),
  reverse,
  reconcile,
  events
] as const
