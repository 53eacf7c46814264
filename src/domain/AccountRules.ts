import * as Schema from "effect/Schema"
import type { TransactionType } from "./Transaction.ts"

/**
 * What an account is to the ledger. Every USER is a PLAYER; a system account is the TREASURY
 * (the issuer of every asset), the ESCROW (what holds keep), or any other SYSTEM account, which
 * no operation may touch until it is given a role and rules of its own.
 */
export const AccountRole = Schema.Literal("PLAYER", "TREASURY", "ESCROW", "SYSTEM")
export type AccountRole = typeof AccountRole.Type

export type EntrySide = "DEBIT" | "CREDIT"

type SideOf = `${TransactionType}:${EntrySide}`

/**
 * The sides each system account may take, by transaction type. Money is issued and taken back
 * only by the treasury's own operations (and multi-leg transactions, which name it), and the
 * escrow moves only with a hold's life: in at HOLD, out at CAPTURE or RELEASE. A REVERSAL
 * mirrors a transaction the treasury could take part in; no hold operation is reversed, so the
 * escrow never is a reversal's side. Migration 0015 writes the same table in SQL.
 */
const systemSides: Record<Exclude<AccountRole, "PLAYER">, ReadonlySet<SideOf>> = {
  TREASURY: new Set<SideOf>([
    "GENESIS:DEBIT",
    "TOPUP:DEBIT",
    "BONUS:DEBIT",
    "SPEND:CREDIT",
    "CAPTURE:CREDIT",
    "TRANSACTION:DEBIT",
    "TRANSACTION:CREDIT",
    "REVERSAL:DEBIT",
    "REVERSAL:CREDIT"
  ]),
  ESCROW: new Set<SideOf>(["HOLD:CREDIT", "CAPTURE:DEBIT", "RELEASE:DEBIT"]),
  SYSTEM: new Set<SideOf>()
}

/** Whether an account of this role may be this side of a transaction of this type. */
export const maySide = (role: AccountRole, type: TransactionType, side: EntrySide): boolean =>
  role === "PLAYER" || systemSides[role].has(`${type}:${side}`)
