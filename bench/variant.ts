import { ledgerV2Workloads } from "./ledger-v2.ts"
import { startService, type BenchService } from "./service.ts"
import { runWorkload, type Answer } from "./workload.ts"

/**
 * One variant of the service: its own process over its own fresh database, players created and
 * funded through the API, and the workloads it is measured under. Variants are prepared side by
 * side and their workloads run alternately (see load.ts), so that a change in the machine's
 * load between two measurements falls on both variants alike.
 */
export interface Settings {
  readonly seconds: number
  readonly maxRequests: number
  readonly players: number
  readonly hotConcurrencies: ReadonlyArray<number>
  /** Clients of the single-wallet and read workloads. */
  readonly concurrency: number
  readonly bulkItems: number
  /** Times every workload is measured in each variant. */
  readonly rounds: number
  /** Whether a workload is run at all (BENCH_ONLY). */
  readonly selected: (workload: WorkloadName) => boolean
}

export interface Variant {
  readonly label: string
  readonly description: string
  /** Environment of the service process on top of the bench's; undefined removes a variable. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** The checkout the service runs from; default this one. */
  readonly checkout?: string
}

/** What a workload exercises, for BENCH_ONLY: `reads`, `writes` or `bulk`. */
export type WorkloadKind = "reads" | "writes" | "bulk" | "floor"

export interface WorkloadName {
  readonly name: string
  readonly kind: WorkloadKind
}

export interface WorkloadSpec extends WorkloadName {
  readonly concurrency: number
  readonly request: (n: number) => Promise<Answer>
}

export interface PreparedVariant {
  readonly variant: Variant
  readonly service: BenchService
  readonly workloads: ReadonlyArray<WorkloadSpec>
  /** Items per bulk request actually sent: fewer than asked if the service refused the body as too large. */
  readonly bulkItems: number
  /** Writes the bench saw applied so far (fresh 201s, bulk items answered 201), funding included. */
  readonly applied: () => number
  readonly addApplied: (n: number) => void
}

const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
const writeKinds = ["topup", "bonus", "spend", "spend"] as const
const bulkTypes = ["TOPUP", "BONUS", "SPEND", "SPEND"] as const
const fundingAmount = 1_000_000
/** Entries each player gets beyond its fundings, so that a history page of 20 is full. */
const historyDepth = 18
/** Clients that create and fund the players; the set-up is not measured. */
const setupConcurrency = 16

/** Closed over one running service: the requests of every workload, each returning its Answer. */
export const makeRequests = (service: BenchService) => {
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

/** Creates `players` players and funds each with every asset; answers their user ids and the writes applied. */
export const setUpPlayers = async (service: BenchService, players: number) => {
  const { post, write } = makeRequests(service)
  const userIds: Array<number> = []
  const created = await runWorkload({
    name: "create players",
    concurrency: setupConcurrency,
    seconds: Number.POSITIVE_INFINITY,
    maxRequests: players,
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
    maxRequests: players * assets.length,
    request: (n) =>
      write("topup", {
        userId: userIds[Math.floor(n / assets.length)],
        assetCode: assets[n % assets.length],
        amount: fundingAmount,
        idempotencyKey: key("f", n)
      })
  })
  // Enough entries for a full history page: otherwise a page would hold the three fundings only.
  const deepened = await runWorkload({
    name: "deepen histories",
    concurrency: setupConcurrency,
    seconds: Number.POSITIVE_INFINITY,
    maxRequests: players * historyDepth,
    request: (n) =>
      write("topup", {
        userId: userIds[n % players],
        assetCode: assets[Math.floor(n / players) % assets.length],
        amount: 1,
        idempotencyKey: key("d", n)
      })
  })
  if (
    created.statuses.get(201) !== players || funded.applied !== players * assets.length ||
    deepened.applied !== players * historyDepth
  ) {
    throw new Error(
      `set-up failed: players ${JSON.stringify([...created.statuses])}, funding ${JSON.stringify([...funded.statuses])}, ` +
        `histories ${JSON.stringify([...deepened.statuses])}`
    )
  }
  return { userIds, applied: funded.applied + deepened.applied }
}

/** The workloads of the bench, in the order they run, each closed over one service. */
export const workloadsFor = (service: BenchService, userIds: ReadonlyArray<number>, settings: Settings, bulkSize: number) => {
  const { write, bulk, read } = makeRequests(service)
  const player = (n: number) => userIds[n % userIds.length]!
  /**
   * A workload runs once per round, and runWorkload numbers its requests from 0 each time: the
   * counter carries on across rounds, so that idempotency keys stay fresh and every write applies.
   */
  const continuing = (request: (n: number) => Promise<Answer>) => {
    let next = 0
    return () => request(next++)
  }
  const workloads: Array<WorkloadSpec> = settings.hotConcurrencies.map((concurrency) => ({
    name: `hot@${concurrency}`,
    kind: "writes",
    concurrency,
    request: continuing((n) =>
      write(writeKinds[n % writeKinds.length]!, {
        userId: player(n),
        assetCode: assets[n % assets.length],
        amount: 1 + (n % 50),
        idempotencyKey: key(`h${concurrency}.`, n)
      })
    )
  }))
  workloads.push({
    name: `single-wallet@${settings.concurrency}`,
    kind: "writes",
    concurrency: settings.concurrency,
    request: continuing((n) =>
      write(n % 2 === 0 ? "spend" : "topup", {
        userId: userIds[0],
        assetCode: "GOLD_COINS",
        amount: 1 + (n % 50),
        idempotencyKey: key("s", n)
      })
    )
  })
  // Ledger v2 (bench/ledger-v2.ts): transfers and three-leg purchases, at the same concurrency.
  workloads.push(...ledgerV2Workloads(service, player, settings.concurrency))
  const balance = (n: number) => read(`/api/wallets/${player(n)}/balance`)
  const history = (n: number) => read(`/api/wallets/${player(n)}/transactions?limit=20`)
  workloads.push(
    { name: `balance@${settings.concurrency}`, kind: "reads", concurrency: settings.concurrency, request: continuing(balance) },
    { name: `history@${settings.concurrency}`, kind: "reads", concurrency: settings.concurrency, request: continuing(history) },
    {
      name: `read@${settings.concurrency}`,
      kind: "reads",
      concurrency: settings.concurrency,
      request: continuing((n) => (n % 2 === 0 ? balance(n) : history(n)))
    }
  )
  // The floor under every request: the liveness probe answers without a key, a query or a body
  // to decode, so its CPU is what the HTTP server, the router and the middleware cost alone.
  workloads.push({
    name: `live@${settings.concurrency}`,
    kind: "floor",
    concurrency: settings.concurrency,
    request: continuing(() => read("/api/health/live"))
  })
  workloads.push({
    name: "bulk@1",
    kind: "bulk",
    concurrency: 1,
    // Request 0 of the accepted size was the probe (see prepareVariant); the workload goes on from 1.
    request: continuing((n) => bulk(bulkItems(player, n + 1, bulkSize)))
  })
  return workloads.filter(settings.selected)
}

const bulkItems = (player: (n: number) => number, request: number, size: number) =>
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

/** Starts the variant's service, sets up its players and finds the bulk size it accepts. */
export const prepareVariant = async (variant: Variant, settings: Settings): Promise<PreparedVariant> => {
  const service = await startService(variant.env, { checkout: variant.checkout })
  try {
    const players = await setUpPlayers(service, settings.players)
    let applied = players.applied
    const player = (n: number) => players.userIds[n % players.userIds.length]!
    let size = settings.bulkItems
    if (settings.selected({ name: "bulk@1", kind: "bulk" })) {
      const { bulk } = makeRequests(service)
      // Until the service accepts the full body, halve the items rather than measure nothing but 413s.
      let probe = await bulk(bulkItems(player, 0, size))
      while (probe.status === 413 && size > 1) {
        const kib = JSON.stringify({ items: bulkItems(player, 0, size) }).length / 1024
        console.log(`${variant.label} bulk: ${size} items (${kib.toFixed(0)} KiB) answered 413 PAYLOAD_TOO_LARGE; trying ${Math.ceil(size / 2)}`)
        size = Math.ceil(size / 2)
        probe = await bulk(bulkItems(player, 0, size))
      }
      applied += probe.applied
    }
    return {
      variant,
      service,
      workloads: workloadsFor(service, players.userIds, settings, size),
      bulkItems: size,
      applied: () => applied,
      addApplied: (n) => {
        applied += n
      }
    }
  } catch (error) {
    await service.stop()
    throw error
  }
}
