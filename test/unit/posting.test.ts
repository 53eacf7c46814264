import { describe, expect, test } from "bun:test"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { AssetCode } from "../../src/domain/Asset.ts"
import { HistoryCursor } from "../../src/domain/History.ts"
import { characterCount, MaxAmount } from "../../src/domain/Limits.ts"
import { Amount } from "../../src/domain/Money.ts"
import { applyPosting, BalanceSheet, type Posting, type WalletId, type WalletState } from "../../src/domain/Posting.ts"
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
  test("a reversal that allows debt goes down to minus the asset's maxDebt, to the unit, and past it is DebtLimit", () => {
    const debt = { ...posting(150, "REVERSAL"), allowDebt: true }
    const indebted = { ...wallet(10, "USER", 50), maxDebt: 100 }
    expect(applyPosting(debt, indebted, wallet(11, "SYSTEM", 0))).toEqual(Either.right({ debitBalanceAfter: -100, creditBalanceAfter: 150 }))
    const past = applyPosting({ ...debt, amount: Amount.make(151) }, indebted, wallet(11, "SYSTEM", 0))
    expect(Either.isLeft(past) && [past.left._tag, past.left.code]).toEqual(["DebtLimit", "DEBT_LIMIT"])
    // Without allowDebt the floor is zero whatever the asset allows; a player in debt cannot spend.
    const plain = applyPosting(posting(51), indebted, wallet(11, "SYSTEM", 0))
    expect(Either.isLeft(plain) && plain.left._tag).toBe("InsufficientFunds")
    const spend = applyPosting(posting(1), { ...indebted, balance: -5 }, wallet(11, "SYSTEM", 0))
    expect(Either.isLeft(spend) && spend.left._tag).toBe("InsufficientFunds")
    // An asset without maxDebt refuses any debt, as DebtLimit.
    const none = applyPosting(debt, wallet(10, "USER", 50), wallet(11, "SYSTEM", 0))
    expect(Either.isLeft(none) && none.left._tag).toBe("DebtLimit")
  })

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

describe("BalanceSheet.postAll", () => {
  const leg = (amount: number, debit: number, credit: number, legIndex: number): Posting => ({
    ...posting(amount, "TRANSACTION"),
    debitWalletId: debit as WalletId,
    creditWalletId: credit as WalletId,
    legIndex
  })

  test("each leg sees the balances the legs before it left", () => {
    const sheet = new BalanceSheet([wallet(1, "SYSTEM", -100), wallet(2, "USER", 0), wallet(3, "USER", 0)])
    const posted = sheet.postAll([leg(40, 1, 2, 0), leg(40, 2, 3, 1), leg(15, 3, 2, 2)])
    expect(posted).toEqual(Either.right([
      { debitBalanceAfter: -140, creditBalanceAfter: 40 },
      { debitBalanceAfter: 0, creditBalanceAfter: 40 },
      { debitBalanceAfter: 25, creditBalanceAfter: 15 }
    ]))
    expect(sheet.balances()).toEqual(new Map([[1, -140], [2, 15], [3, 25]]) as never)
  })

  test("all or none: a refused leg undoes the ones before it and names itself", () => {
    const sheet = new BalanceSheet([wallet(1, "SYSTEM", -100), wallet(2, "USER", 10), wallet(3, "USER", 0)])
    const refused = sheet.postAll([leg(10, 2, 3, 0), leg(5, 1, 2, 1), leg(6, 2, 3, 2)])
    expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "InsufficientFunds", balance: 5, amount: 6, legIndex: 2 })
    expect(sheet.balances()).toEqual(new Map([[1, -100], [2, 10], [3, 0]]) as never)
  })

  test("a credit past 2^53 - 1 is BALANCE_LIMIT with its leg, whoever the sides are", () => {
    const sheet = new BalanceSheet([wallet(2, "USER", 10), wallet(3, "USER", MaxAmount - 5)])
    const refused = sheet.postAll([leg(6, 2, 3, 0)])
    expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "BalanceLimit", legIndex: 0 })
  })

  test("the player floor is the asset's: a lower floor lets the balance go that far, and no further", () => {
    expect(Either.isRight(applyPosting(posting(15), wallet(10, "USER", 10), wallet(11, "SYSTEM", 0), -5))).toBe(true)
    expect(Either.isLeft(applyPosting(posting(16), wallet(10, "USER", 10), wallet(11, "SYSTEM", 0), -5))).toBe(true)
  })
})
