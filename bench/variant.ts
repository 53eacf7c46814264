import { checkInvariants, type InvariantCheck } from "./invariants.ts"
import { ledgerV2Workloads } from "./ledger-v2.ts"
import { measureWorkload, type Measurement } from "./measure.ts"
import { reportMeasurement } from "./report.ts"
import { startService, type BenchService } from "./service.ts"
import { runWorkload, type Answer } from "./workload.ts"

/**
 * One variant of the service under the whole set of workloads: its own process over its own
 * fresh database, players created and funded through the API, then hot writes at each
 * concurrency, single-wallet writes, reads and bulk writes, and the ledger's invariants checked
 * at the end against the writes the bench saw applied.
 */
export interface Settings {
  readonly seconds: number
  readonly maxRequests: number
  readonly players: number
  readonly hotConcurrencies: ReadonlyArray<number>
  /** Clients of the single-wallet and read workloads. */
  readonly concurrency: number
  readonly bulkItems: number
}

export interface Variant {
  readonly label: string
  readonly description: string
  /** Environment of the service process on top of the bench's; undefined removes a variable. */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface VariantResult {
  readonly variant: Variant
  readonly measurements: ReadonlyArray<Measurement>
  /** Items per bulk request actually sent: fewer than asked if the service refused the body as too large. */
  readonly bulkItems: number
  readonly invariants: ReadonlyArray<InvariantCheck>
}

const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
const writeKinds = ["topup", "bonus", "spend", "spend"] as const
const bulkTypes = ["TOPUP", "BONUS", "SPEND", "SPEND"] as const
const fundingAmount = 1_000_000
/** Clients that create and fund the players; the set-up is not measured. */
const setupConcurrency = 16

/** Closed over one running service: the requests of every workload, each returning its Answer. */
const makeRequests = (service: BenchService) => {
  const authorization = `Bearer ${service.apiKey}`
  const post = (path: string, body: unknown) =>
    fetch(`${service.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify(body)
    })

  /** A single write counts as applied on a 201 that is not a replay of an earlier one. */
  const write = async (kind: string, body: unknown): Promise<Answer> => {
    const response = await post(`/api/wallets/${kind}`, body)
    await response.arrayBuffer()
    const fresh = response.status === 201 && response.headers.get("idempotent-replayed") !== "true"
    return { status: response.status, applied: fresh ? 1 : 0 }
  }

  /** A bulk request applied as many writes as it has items answered 201. */
  const bulk = async (items: ReadonlyArray<unknown>): Promise<Answer> => {
    const response = await post("/api/wallets/batch", { items })
    const text = await response.text()
    if (response.status !== 200) return { status: response.status, applied: 0 }
    const { results } = JSON.parse(text) as { results: ReadonlyArray<{ status: number }> }
    return { status: response.status, applied: results.filter((result) => result.status === 201).length }
  }

  const read = async (path: string): Promise<Answer> => {
    const response = await fetch(`${service.baseUrl}${path}`, { headers: { authorization } })
    await response.arrayBuffer()
    return { status: response.status, applied: 0 }
  }

  return { post, write, bulk, read }
}

/** Keys are short so that many bulk items fit in one body; each database is fresh, so they only need to be unique within a variant. */
const key = (prefix: string, n: number) => `${prefix}${n.toString(36)}`

export const runVariant = async (variant: Variant, settings: Settings): Promise<VariantResult> => {
  const service = await startService(variant.env)
  try {
    const { post, write, bulk, read } = makeRequests(service)
    const measurements: Array<Measurement> = []
    let applied = 0
    const measure = async (options: Parameters<typeof measureWorkload>[1]) => {
      const measurement = await measureWorkload(service, options)
      applied += measurement.applied
      measurements.push(measurement)
      reportMeasurement(variant.label, measurement)
    }

    const userIds: Array<number> = []
    const created = await runWorkload({
      name: "create players",
      concurrency: setupConcurrency,
      seconds: Number.POSITIVE_INFINITY,
      maxRequests: settings.players,
      request: async (n) => {
        const response = await post("/api/users", { username: `bench_${n}` })
        if (response.status === 201) userIds[n] = ((await response.json()) as { userId: number }).userId
        else await response.arrayBuffer()
        return { status: response.status, applied: 0 }
      }
    })
    const funded = await runWorkload({
      name: "fund players",
      concurrency: setupConcurrency,
      seconds: Number.POSITIVE_INFINITY,
      maxRequests: settings.players * assets.length,
      request: (n) =>
        write("topup", {
          userId: userIds[Math.floor(n / assets.length)],
          assetCode: assets[n % assets.length],
          amount: fundingAmount,
          idempotencyKey: key("f", n)
        })
    })
    applied += funded.applied
    if (created.statuses.get(201) !== settings.players || funded.applied !== settings.players * assets.length) {
      throw new Error(`set-up failed: players ${JSON.stringify([...created.statuses])}, funding ${JSON.stringify([...funded.statuses])}`)
    }

    const player = (n: number) => userIds[n % userIds.length]!
    const common = { seconds: settings.seconds, maxRequests: settings.maxRequests }

    for (const concurrency of settings.hotConcurrencies) {
      await measure({
        ...common,
        name: `hot@${concurrency}`,
        concurrency,
        request: (n) =>
          write(writeKinds[n % writeKinds.length]!, {
            userId: player(n),
            assetCode: assets[n % assets.length],
            amount: 1 + (n % 50),
            idempotencyKey: key(`h${concurrency}.`, n)
          })
      })
    }

    await measure({
      ...common,
      name: `single-wallet@${settings.concurrency}`,
      concurrency: settings.concurrency,
      request: (n) =>
        write(n % 2 === 0 ? "spend" : "topup", {
          userId: userIds[0],
          assetCode: "GOLD_COINS",
          amount: 1 + (n % 50),
          idempotencyKey: key("s", n)
        })
    })

    // Ledger v2 (bench/ledger-v2.ts): transfers and three-leg purchases, at the same concurrency.
    for (const workload of ledgerV2Workloads(service, player, settings.concurrency)) await measure({ ...common, ...workload })

    await measure({
      ...common,
      name: `read@${settings.concurrency}`,
      concurrency: settings.concurrency,
      request: (n) =>
        read(n % 2 === 0 ? `/api/wallets/${player(n)}/balance` : `/api/wallets/${player(n)}/transactions?limit=20`)
    })

    const bulkItems = (request: number, size: number) =>
      Array.from({ length: size }, (_, i) => {
        const n = request * size + i
        return {
          type: bulkTypes[n % bulkTypes.length],
          userId: player(n),
          assetCode: assets[n % assets.length],
          amount: 1 + (n % 50),
          idempotencyKey: key(`b${size}.`, n)
        }
      })
    // Until the service accepts the full body, halve the items rather than measure nothing but 413s.
    let size = settings.bulkItems
    let probe = await bulk(bulkItems(0, size))
    while (probe.status === 413 && size > 1) {
      const kib = JSON.stringify({ items: bulkItems(0, size) }).length / 1024
      console.log(`${variant.label} bulk: ${size} items (${kib.toFixed(0)} KiB) answered 413 PAYLOAD_TOO_LARGE; trying ${Math.ceil(size / 2)}`)
      size = Math.ceil(size / 2)
      probe = await bulk(bulkItems(0, size))
    }
    // The accepted probe was request 0 of its size: count what it applied; the workload goes on from request 1.
    applied += probe.applied
    await measure({
      ...common,
      name: "bulk@1",
      concurrency: 1,
      request: (n) => bulk(bulkItems(n + 1, size))
    })

    const invariants = await checkInvariants(service.databaseUrl, applied)
    return { variant, measurements, bulkItems: size, invariants }
  } finally {
    await service.stop()
  }
}
