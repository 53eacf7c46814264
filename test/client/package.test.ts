import { afterAll, beforeAll, expect, test } from "bun:test"
import { execFile } from "node:child_process"
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { testAdminKey } from "../support/TestApiKey.ts"
import { startService, type TestService } from "../support/TestService.ts"

/**
 * The published client as another project gets it: `npm pack` builds and packs
 * packages/client, the tarball is installed into a fresh project (its dependencies from npm's
 * cache, or the registry), and plain `node` runs a program against a running service. The same
 * project type-checks a TypeScript program against the package's declarations and bundles it for
 * a browser.
 */

const run = promisify(execFile)
const root = join(import.meta.dir, "..", "..")

let service: TestService
let folder: string
beforeAll(async () => {
  service = await startService()
  folder = await mkdtemp(join(tmpdir(), "dino-client-"))
  await run("npm", ["pack", "--pack-destination", folder], { cwd: join(root, "packages", "client") })
  const tarball = (await readdir(folder)).find((name) => name.endsWith(".tgz"))!
  await writeFile(join(folder, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  await run("npm", ["install", `./${tarball}`, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: folder })
}, 600_000)
afterAll(async () => {
  await service.dispose()
  await rm(folder, { recursive: true, force: true })
})

const program = `
import { Effect } from "effect"
import { makeFetchWalletClient, withApiKey } from "@dino-wallet/client"

const main = Effect.gen(function*() {
  // No key for the client: every call names its own.
  const wallet = yield* makeFetchWalletClient(process.env.BASE_URL)
  const key = process.env.API_KEY
  const user = yield* wallet.users.create({ payload: { username: "node_" + Date.now() } }).pipe(withApiKey(key))
  // No idempotency key: the client makes one.
  const receipt = yield* wallet.wallets.topup({
    payload: { userId: user.userId, assetCode: "GOLD_COINS", amount: 250, description: "from node" },
    headers: {}
  }).pipe(withApiKey(key))
  const balance = yield* wallet.wallets.balance({ path: { userId: user.userId }, urlParams: { assetCode: "GOLD_COINS" } })
    .pipe(withApiKey(key))
  const refused = yield* wallet.wallets.spend({
    payload: { userId: user.userId, assetCode: "GOLD_COINS", amount: 1000 },
    headers: {}
  }).pipe(withApiKey(key), Effect.flip)
  const unauthorized = yield* wallet.assets.list().pipe(Effect.flip)
  return {
    runtime: typeof Bun === "undefined" ? "node " + process.version : "bun",
    userId: user.userId,
    topupBalance: receipt.balance,
    balance: balance.balance,
    refused: { tag: refused._tag, code: refused.code, isError: refused instanceof Error },
    unauthorized: unauthorized._tag
  }
})

Effect.runPromise(main).then((result) => console.log(JSON.stringify(result)), (error) => {
  console.error(error)
  process.exit(1)
})
`

test("plain node registers a player, tops up, reads the balance and gets typed errors", async () => {
  await writeFile(join(folder, "program.mjs"), program)
  const { stdout } = await run("node", ["program.mjs"], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? "", BASE_URL: service.baseUrl, API_KEY: testAdminKey }
  })
  const result = JSON.parse(stdout) as Record<string, unknown>
  expect(result).toEqual({
    runtime: expect.stringMatching(/^node v/),
    userId: expect.any(Number),
    topupBalance: 250,
    balance: 250,
    refused: { tag: "InsufficientFunds", code: "INSUFFICIENT_FUNDS", isError: true },
    unauthorized: "Unauthorized"
  })
}, 120_000)

const typedProgram = `
import { Effect } from "effect"
import { makeFetchWalletClient, UserId, type WalletClient } from "@dino-wallet/client"

export const balanceOf = (wallet: WalletClient, userId: number) =>
  wallet.wallets.balance({ path: { userId: UserId.make(userId) }, urlParams: {} }).pipe(
    Effect.map((answer) => "balance" in answer ? answer.balance : answer.balances.length),
    Effect.catchTag("UserNotFound", (error) => Effect.succeed(error.userId * -1))
  )
export const make = makeFetchWalletClient("http://localhost:3000", { apiKey: "dwk_x" })
`

test("the package's declarations type-check a TypeScript consumer, and it bundles for a browser without node modules", async () => {
  await writeFile(join(folder, "typed.ts"), typedProgram)
  await writeFile(join(folder, "tsconfig.json"), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", types: [] },
    files: ["typed.ts"]
  }))
  const checked = await run("node", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: folder })
    .then(() => "")
    .catch((error: { stdout?: string }) => error.stdout ?? "failed")
  expect(checked).toBe("")

  const bundled = await Bun.build({ entrypoints: [join(folder, "typed.ts")], target: "browser", format: "esm" })
  expect(bundled.success).toBe(true)
  const text = await bundled.outputs[0]!.text()
  expect(text).toContain("makeFetchWalletClient")
  expect(text).not.toMatch(/from\s*"node:/)
}, 300_000)
