import { describe, expect, test } from "bun:test"
import { createHash } from "node:crypto"
import { AssetCode } from "../../src/domain/Asset.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { UserId } from "../../src/domain/User.ts"
import { multiLegCommand, transferCommand, writeCommand } from "../../src/domain/Write.ts"

const sha256 = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex")
const key = IdempotencyKey.make("k")
const gold = AssetCode.make("GOLD_COINS")
const leg = (from: number, to: number, amount: number) => ({
  fromUserId: UserId.make(from),
  toUserId: UserId.make(to),
  assetCode: gold,
  amount: Amount.make(amount)
})

describe("fingerprints", () => {
  test("a v1 write's fingerprint is what it was before ledger v2, so stored keys still match their retries", () => {
    const plain = writeCommand("TOPUP", { userId: UserId.make(2), assetCode: gold, amount: Amount.make(5) }, key)
    expect(plain.fingerprint).toBe(sha256(["TOPUP", 2, "GOLD_COINS", 5, null]))
    const tagged = writeCommand("SPEND", { userId: UserId.make(2), assetCode: gold, amount: Amount.make(5), description: "d", metadata: { b: "2", a: "1" } }, key)
    expect(tagged.fingerprint).toBe(sha256(["SPEND", 2, "GOLD_COINS", 5, "d", [["a", "1"], ["b", "2"]]]))
  })

  test("the endpoint, every leg and their order are part of it; who sent it is not", () => {
    const transfer = transferCommand(leg(2, 3, 5), key)
    expect(transferCommand(leg(2, 3, 5), key, "another-request", null).fingerprint).toBe(transfer.fingerprint)
    expect(multiLegCommand([leg(2, 3, 5)], {}, key).fingerprint).not.toBe(transfer.fingerprint)
    expect(multiLegCommand([leg(2, 3, 5), leg(3, 2, 1)], {}, key).fingerprint)
      .not.toBe(multiLegCommand([leg(3, 2, 1), leg(2, 3, 5)], {}, key).fingerprint)
    expect(multiLegCommand([leg(2, 3, 5)], { metadata: { a: "1", b: "2" } }, key).fingerprint)
      .toBe(multiLegCommand([leg(2, 3, 5)], { metadata: { b: "2", a: "1" } }, key).fingerprint)
  })
})
