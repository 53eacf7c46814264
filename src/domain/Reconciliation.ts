import * as Schema from "effect/Schema"
import { AssetCode } from "./Asset.ts"
import { WalletId } from "./Posting.ts"

/** Most mismatched wallets listed per asset; the count says how many there are in all. */
export const MismatchedWalletsListed = 100

export class MismatchedWallet extends Schema.Class<MismatchedWallet>("MismatchedWallet")({
  walletId: WalletId,
  balance: Schema.Number,
  entriesNet: Schema.Number.annotations({ description: "Its credits minus its debits in the ledger" })
}) {}

export class AssetReconciliation extends Schema.Class<AssetReconciliation>("AssetReconciliation")({
  assetCode: AssetCode,
  sumOfBalances: Schema.Number.annotations({ description: "0 when the asset is balanced" }),
  wallets: Schema.Number,
  transactions: Schema.Number,
  mismatchedWalletCount: Schema.Number,
  mismatchedWallets: Schema.Array(MismatchedWallet).annotations({
    description: `Wallets whose balance is not their entries' net, by id, at most ${MismatchedWalletsListed}`
  }),
  held: Schema.Number.annotations({ description: "What active holds keep of the asset" }),
  escrowBalance: Schema.Number.annotations({ description: "The escrow's balance of the asset: equal to held when reconciled" }),
  issued: Schema.Number.annotations({
    description: "What the treasury has paid out of the asset minus what it took back, from its entries"
  }),
  outstanding: Schema.Number.annotations({
    description: "What every other account (players, the escrow) holds of the asset: equal to issued when reconciled, " +
      "more when money that nobody issued exists"
  })
}) {}

export class Reconciliation extends Schema.Class<Reconciliation>("Reconciliation")({
  ok: Schema.Boolean.annotations({ description: "Every asset sums to zero and every wallet equals its entries" }),
  checkedAt: Schema.Date,
  assets: Schema.Array(AssetReconciliation)
}) {}

/**
 * The ledger's two global rules, the escrow holding exactly what is held, and nothing held
 * that the treasury did not issue, on the figures of one asset.
 */
export const isReconciled = (asset: AssetReconciliation): boolean =>
  asset.sumOfBalances === 0 && asset.mismatchedWalletCount === 0 && asset.held === asset.escrowBalance &&
  asset.issued === asset.outstanding
