import type { BenchService } from "./service.ts"
import type { WorkloadSpec } from "./variant.ts"
import type { Answer } from "./workload.ts"

/**
 * Ledger v2 workloads, kept apart from the v1 ones: transfers between players, and multi-leg
 * purchases of three legs (the price to another player, a fee to the treasury, a loyalty
 * reward from it), each an idempotent write through the group committer. Compare their req/s
 * with hot@N (v1 writes) at the same concurrency. Against a BENCH_BASELINE from before ledger
 * v2 the baseline answers them 404 (counted, never applied).
 */
export const ledgerV2Workloads = (
  service: BenchService,
  player: (n: number) => number,
  concurrency: number
): ReadonlyArray<WorkloadSpec> => {
  const authorization = `Bearer ${service.apiKey}`
  /** A write counts as applied on a 201 that is not a replay of an earlier one. */
  const write = async (path: string, body: unknown): Promise<Answer> => {
    const response = await fetch(`${service.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify(body)
    })
    await response.arrayBuffer()
    const fresh = response.status === 201 && response.headers.get("idempotent-replayed") !== "true"
    return { status: response.status, applied: fresh ? 1 : 0 }
  }
  /** Each round numbers its requests from 0: the counter carries on, so that every key is fresh. */
  const continuing = (request: (n: number) => Promise<Answer>) => {
    let next = 0
    return () => request(next++)
  }
  return [
    {
      name: `transfer@${concurrency}`,
      kind: "writes",
      concurrency,
      request: continuing((n) =>
        write("/api/wallets/transfer", {
          fromUserId: player(n),
          toUserId: player(n + 1),
          assetCode: "GOLD_COINS",
          amount: 1 + (n % 50),
          idempotencyKey: `t${n.toString(36)}`
        })
      )
    },
    {
      name: `multi-leg@${concurrency}`,
      kind: "writes",
      concurrency,
      request: continuing((n) =>
        write("/api/transactions", {
          legs: [
            { fromUserId: player(n), toUserId: player(n + 7), assetCode: "GOLD_COINS", amount: 1 + (n % 50) },
            { fromUserId: player(n), toUserId: 1, assetCode: "GOLD_COINS", amount: 1 },
            { fromUserId: 1, toUserId: player(n), assetCode: "LOYALTY_POINTS", amount: 1 }
          ],
          idempotencyKey: `m${n.toString(36)}`
        })
      )
    }
  ]
}
