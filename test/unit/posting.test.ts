import { describe, expect, test } from "bun:test"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { AssetCode } from "../../src/domain/Asset.ts"
import { HistoryCursor } from "../../src/domain/History.ts"
import { characterCount, MaxAmount } from "../../src/domain/Limits.ts"
import { Amount } from "../../src/domain/Money.ts"
import { applyPosting, type Posting, type WalletId, type WalletState } from "../../src/domain/Posting.ts"
import { WriteRequest } from "../../src/domain/Transaction.ts"
import { UserId } from "../../src/domain/User.ts"

const wallet = (id: number, ownerKind: "USER" | "SYSTEM", balance: number): WalletState => ({
  id: id as WalletId,
  userId: UserId.make(ownerKind === "SYSTEM" ? 1 : 2),
  ownerKind,
  balance
})

const posting = (amount: number, type: Posting["type"] = "SPEND"): Posting => ({
  type,
  userId: UserId.make(2),
  assetCode: AssetCode.make("GOLD_COINS"),
  amount: Amount.make(amount),
  description: null,
  debitWalletId: 10 as WalletId,
  creditWalletId: 11 as WalletId
})

describe("applyPosting", () => {
  test("moves the amount from debit to credit", () => {
    const result = applyPosting(posting(30), wallet(10, "USER", 100), wallet(11, "SYSTEM", -100))
    expect(result).toEqual(Either.right({ debitBalanceAfter: 70, creditBalanceAfter: -70 }))
  })

  test("a user wallet cannot go below zero, to the unit", () => {
    expect(Either.isRight(applyPosting(posting(100), wallet(10, "USER", 100), wallet(11, "SYSTEM", 0)))).toBe(true)
    const refused = applyPosting(posting(101), wallet(10, "USER", 100), wallet(11, "SYSTEM", 0))
    expect(Either.isLeft(refused) && refused.left._tag).toBe("InsufficientFunds")
  })

  test("no balance leaves the JSON-safe range", () => {
    const credit = applyPosting(posting(2, "TOPUP"), wallet(10, "SYSTEM", -5), wallet(11, "USER", MaxAmount - 1))
    expect(Either.isLeft(credit) && credit.left._tag).toBe("BalanceLimit")
    const issue = applyPosting(posting(2, "TOPUP"), wallet(10, "SYSTEM", -MaxAmount + 1), wallet(11, "USER", 0))
    expect(Either.isLeft(issue) && issue.left._tag).toBe("BalanceLimit")
  })

  test("property: an applied posting conserves the total and keeps user wallets non-negative", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: -1e12, max: 0 }),
        fc.integer({ min: 1, max: 2e12 }),
        (userBalance, treasuryBalance, amount) => {
          const result = applyPosting(posting(amount), wallet(10, "USER", userBalance), wallet(11, "SYSTEM", treasuryBalance))
          if (Either.isLeft(result)) return amount > userBalance
          return result.right.debitBalanceAfter >= 0 &&
            result.right.debitBalanceAfter + result.right.creditBalanceAfter === userBalance + treasuryBalance
        }
      )
    )
  })
})

describe("schemas at the edge", () => {
  const decode = Schema.decodeUnknownEither(WriteRequest)
  test("amounts are JSON integers from 1 to 2^53 - 1", () => {
    const base = { userId: 2, assetCode: "GOLD_COINS" }
    for (const amount of [1, 500, MaxAmount]) expect(Either.isRight(decode({ ...base, amount }))).toBe(true)
    for (const amount of [0, -1, 1.5, MaxAmount + 1, "5", null, Number.NaN, Infinity]) {
      expect(Either.isLeft(decode({ ...base, amount }))).toBe(true)
    }
  })

  test("characters are counted as code points", () => {
    expect(characterCount("🦖🦖")).toBe(2)
    expect(characterCount("abc")).toBe(3)
  })

  test("history cursors round-trip and forged ones are refused", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: MaxAmount }), (entryId) => {
      const encoded = Schema.encodeSync(HistoryCursor)(entryId)
      return Schema.decodeSync(HistoryCursor)(encoded) === entryId
    }))
    for (const forged of ["", "abc", "ZTA", Buffer.from("e-1").toString("base64url"), Buffer.from("e99999999999999999").toString("base64url")]) {
      expect(Either.isLeft(Schema.decodeUnknownEither(HistoryCursor)(forged))).toBe(true)
    }
  })
})
