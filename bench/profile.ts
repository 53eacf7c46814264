import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkOutBaseline } from "./baseline.ts"
import { processCpuMs } from "./procfs.ts"
import { startService } from "./service.ts"
import { makeRequests, setUpPlayers } from "./variant.ts"
import { runWorkload, type Answer } from "./workload.ts"

/**
 * Where the service's CPU goes for one kind of request: the service runs under Bun's sampling
 * profiler (`bun --cpu-prof`), the bench sends balance reads, history pages and writes in turn,
 * each for PROFILE_SECONDS at PROFILE_CONCURRENCY clients, and the samples taken while each
 * workload ran are summed by the layer their function belongs to (self time: a sample counts
 * for the function running when it was taken). With PROFILE_REVISION=<git rev> the profile is
 * of that revision instead of this checkout.
 *
 *   bun run bench/profile.ts            # prints one markdown table, µs of service CPU per request
 *
 * The profiler's own cost inflates every figure a little; compare profiles with each other, and
 * CPU per request with the load bench.
 */

interface CallFrame {
  readonly functionName: string
  readonly url: string
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  /** Wall-clock µs since the epoch, like Date.now() * 1000. */
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** The layers of the service, first match wins. */
const layers: ReadonlyArray<readonly [string, (frame: CallFrame) => boolean]> = [
  ["idle (event loop waiting)", (f) => f.functionName === "(idle)"],
  ["middleware: request log, id, gate", (f) => /src\/http\/(RequestLog|RequestId|RequestGate)\.ts/.test(f.url)],
  ["middleware: edge errors, JSON depth", (f) => /src\/http\/(EdgeErrors|JsonDepth)\.ts/.test(f.url)],
  ["handlers, service, ledger (ours)", (f) => /\/src\/(http|wallet|ledger|domain)\//.test(f.url) || /\/src\/[A-Za-z]+\.ts/.test(f.url)],
  ["Bun HTTP server (platform-bun)", (f) => f.url.includes("@effect/platform-bun") || f.url.includes("platform-node-shared")],
  ["HttpApi router, decode, encode", (f) => /@effect\/platform\/dist\/esm\/(HttpApi|internal\/httpRouter|internal\/httpMiddleware|HttpRouter|HttpMiddleware|internal\/httpApp|HttpApp)/.test(f.url)],
  ["@effect/platform other (request, response, headers, url)", (f) => f.url.includes("@effect/platform/")],
  ["Schema, ParseResult (decode/encode)", (f) => /effect\/dist\/esm\/(Schema|ParseResult|SchemaAST|internal\/schema)/.test(f.url)],
  ["tracer, spans", (f) => /effect\/dist\/esm\/(internal\/tracer|Tracer|internal\/core-effect|internal\/span)/.test(f.url) && /span|Span|trac/i.test(f.functionName + f.url)],
  ["metrics", (f) => /effect\/dist\/esm\/(internal\/metric|Metric)/.test(f.url)],
  ["logging", (f) => /effect\/dist\/esm\/(internal\/logger|Logger|internal\/logSpan)/.test(f.url)],
  ["@effect/sql", (f) => f.url.includes("@effect/sql/") || f.url.includes("@effect/sql-pg")],
  ["pg driver", (f) => /node_modules\/(pg|pg-protocol|pg-types|pg-pool|pg-connection-string|postgres-)/.test(f.url)],
  ["Effect runtime (fibers, FiberRefs, Context, HashMap...)", (f) => f.url.includes("node_modules/effect/")],
  ["Bun, native and other", () => true]
]

const layerOf = (frame: CallFrame) => layers.find(([, test]) => test(frame))![0]

/** A built-in (Map, JSON.parse, a socket write): no script of its own. */
const isNative = (frame: CallFrame) => frame.url === "" && !frame.functionName.startsWith("(")

/**
 * The layer each node's time is put down to: its own, except that a built-in's time goes to the
 * nearest caller that is script, since `new Map` or a socket write says nothing of who asked.
 */
const layerByNode = (profile: CpuProfile) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  return new Map(profile.nodes.map((node) => {
    let current: ProfileNode | undefined = node
    while (current !== undefined && isNative(current.callFrame)) {
      const up = parent.get(current.id)
      current = up === undefined ? undefined : byId.get(up)
    }
    return [node.id, current === undefined ? layerOf(node.callFrame) : layerOf(current.callFrame)]
  }))
}

/** Microseconds of CPU per layer between two wall-clock instants (µs since the epoch). */
const selfTimeByLayer = (profile: CpuProfile, fromUs: number, toUs: number) => {
  const layerOfNode = layerByNode(profile)
  const totals = new Map<string, number>()
  let time = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]!
    if (time < fromUs || time > toUs) continue
    // A sample stands for the interval up to the next one.
    const interval = profile.timeDeltas[i + 1] ?? 0
    const layer = layerOfNode.get(profile.samples[i]!) ?? "Bun, native and other"
    totals.set(layer, (totals.get(layer) ?? 0) + interval)
  }
  return totals
}

const shortUrl = (url: string) => url.replace(/^.*node_modules\//, "").replace(/^.*\/src\//, "src/")

/** Functions by self time; a built-in is named with its nearest script caller. */
const hottestFunctions = (profile: CpuProfile, fromUs: number, toUs: number, count: number) => {
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const label = (node: ProfileNode) => {
    const frame = node.callFrame
    const own = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}`
    if (!isNative(frame)) return own
    let caller: ProfileNode | undefined = node
    while (caller !== undefined && isNative(caller.callFrame)) {
      const up = parent.get(caller.id)
      caller = up === undefined ? undefined : nodeById.get(up)
    }
    return caller === undefined ? own : `${own}← ${caller.callFrame.functionName || "(anonymous)"} ${shortUrl(caller.callFrame.url)}`
  }
  const totals = new Map<string, number>()
  let time = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]!
    if (time < fromUs || time > toUs) continue
    const node = nodeById.get(profile.samples[i]!)
    if (node === undefined || node.callFrame.functionName === "(idle)") continue
    const name = label(node)
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }
  return [...totals].sort(([, x], [, y]) => y - x).slice(0, count)
}

const seconds = Number(process.env.PROFILE_SECONDS ?? 8)
const concurrency = Number(process.env.PROFILE_CONCURRENCY ?? 64)
const revision = process.env.PROFILE_REVISION?.trim() || undefined
const baseline = revision === undefined ? undefined : await checkOutBaseline(revision)
const folder = await mkdtemp(join(tmpdir(), "dino-profile-"))

const windows: Array<{
  readonly name: string
  readonly fromUs: number
  readonly toUs: number
  readonly requests: number
  /** The service process's CPU in the window (all its threads), from /proc. */
  readonly cpuMs: number | undefined
}> = []
try {
  const service = await startService({}, {
    checkout: baseline?.checkout,
    bunArgs: ["--cpu-prof", `--cpu-prof-dir=${folder}`, `--cpu-prof-interval=${process.env.PROFILE_INTERVAL_US ?? 250}`]
  })
  try {
    const { userIds } = await setUpPlayers(service, 50)
    const { bulk, read, write } = makeRequests(service)
    const player = (n: number) => userIds[n % userIds.length]!
    const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
    /** Each workload at PROFILE_CONCURRENCY clients, unless it names its own. */
    const workloads: ReadonlyArray<readonly [string, (n: number) => Promise<Answer>, number?]> = [
      ["balance read", (n) => read(`/api/wallets/${player(n)}/balance`)],
      ["history page (20)", (n) => read(`/api/wallets/${player(n)}/transactions?limit=20`)],
      ["liveness probe (the floor)", () => read("/api/health/live")],
      ["write (topup/spend)", (n) =>
        write(n % 2 === 0 ? "topup" : "spend", {
          userId: player(n),
          assetCode: assets[n % assets.length],
          amount: 1 + (n % 50),
          idempotencyKey: `p${n.toString(36)}`
        })],
      // Per posting: this column's figures are per request of 1,000 postings, so µs read as ns per posting.
      ["bulk (1,000 bonuses, 2 clients)", (n) =>
        bulk(Array.from({ length: 1_000 }, (_, i) => ({
          type: "BONUS",
          userId: player(n * 1_000 + i),
          assetCode: assets[i % assets.length],
          amount: 1,
          idempotencyKey: `b${n.toString(36)}.${i}`
        }))), 2]
    ]
    for (const [name, request, clients = concurrency] of workloads) {
      // A warm-up outside the window, so the JIT has compiled the path before it is measured.
      await runWorkload({ name, concurrency: clients, seconds: 1, maxRequests: 1_000_000, request: (n) => request(n + 10_000_000) })
      const cpuBefore = await processCpuMs(service.pid)
      const fromUs = Date.now() * 1000
      const result = await runWorkload({ name, concurrency: clients, seconds, maxRequests: 1_000_000, request })
      const toUs = Date.now() * 1000
      const cpuAfter = await processCpuMs(service.pid)
      const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
      windows.push({ name, fromUs, toUs, requests: result.requests, cpuMs })
    }
  } finally {
    await service.stop()
  }
  const file = (await readdir(folder)).find((name) => name.endsWith(".cpuprofile"))
  if (file === undefined) throw new Error("the service wrote no .cpuprofile")
  const text = await readFile(join(folder, file), "utf8")
  // PROFILE_OUT keeps the raw profile (for DevTools or speedscope), with the windows in its name.
  if (process.env.PROFILE_OUT) await Bun.write(process.env.PROFILE_OUT, text)
  const profile = JSON.parse(text) as CpuProfile

  const byWindow = windows.map((w) => ({ ...w, totals: selfTimeByLayer(profile, w.fromUs, w.toUs) }))
  const busy = (totals: Map<string, number>) =>
    [...totals].filter(([layer]) => layer !== layers[0]![0]).reduce((sum, [, us]) => sum + us, 0)
  // The sampler stamps wall-clock time between samples, so on a busy machine a sample also
  // stands for time the process waited for a core: the shares are right, the sums are not.
  // Each layer gets its share of the CPU the process really used, from /proc.
  const cpuPerRequestUs = (w: (typeof byWindow)[number]) => w.cpuMs === undefined ? undefined : (w.cpuMs * 1000) / w.requests
  console.log(`Profile of ${baseline === undefined ? "this checkout" : `${revision} (${baseline.commit})`}: ` +
    `${seconds} s per workload at ${concurrency} clients. µs of service CPU per request by layer (its share of the profiler's ` +
    `samples, a built-in's time put down to its caller, times the process's CPU per request from /proc), and the share\n`)
  console.log(`| layer | ${byWindow.map((w) => w.name).join(" | ")} |`)
  console.log(`|---|${byWindow.map(() => "---:").join("|")}|`)
  for (const [layer] of layers.slice(1)) {
    const cells = byWindow.map((w) => {
      const share = (w.totals.get(layer) ?? 0) / busy(w.totals)
      const perRequest = cpuPerRequestUs(w)
      return `${perRequest === undefined ? "?" : (share * perRequest).toFixed(0)} (${(share * 100).toFixed(0)} %)`
    })
    console.log(`| ${layer} | ${cells.join(" | ")} |`)
  }
  console.log(`| **service CPU per request (/proc)** | ${byWindow.map((w) => `**${cpuPerRequestUs(w)?.toFixed(0) ?? "?"}**`).join(" | ")} |`)
  console.log(`| sampled busy time per request (wall clock) | ${byWindow.map((w) => (busy(w.totals) / w.requests).toFixed(0)).join(" | ")} |`)
  console.log(`| requests in the window | ${byWindow.map((w) => `${w.requests} (${(w.requests / ((w.toUs - w.fromUs) / 1e6)).toFixed(0)}/s)`).join(" | ")} |`)
  if (process.env.PROFILE_OUT) await Bun.write(`${process.env.PROFILE_OUT}.windows.json`, JSON.stringify(windows))
  for (const w of windows) {
    console.log(`\nhottest functions, ${w.name} (µs of sampled self time per request, wall clock):`)
    for (const [name, us] of hottestFunctions(profile, w.fromUs, w.toUs, Number(process.env.PROFILE_TOP ?? 15))) {
      console.log(`  ${(us / w.requests).toFixed(1).padStart(6)}  ${name}`)
    }
  }
} finally {
  await rm(folder, { recursive: true, force: true })
  await baseline?.remove()
}
process.exit(0)
