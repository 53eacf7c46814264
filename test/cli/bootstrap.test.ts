import { afterAll, beforeAll, expect, test } from "bun:test"
import { spawn } from "node:child_process"
import { chmod, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "../support/Database.ts"
import { exitWithin, healthWithin, repositoryRoot, startMain } from "../support/MainProcess.ts"

/**
 * `dino-wallet keys create --bootstrap` on a fresh embedded database makes the first admin key
 * and prints it: no log to read. The service started afterwards on that data accepts the key
 * and makes no key of its own; a second bootstrap is refused.
 */

let folder: string
let embeddedPort: number
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "dino-bootstrap-"))
  // As root, a data folder `postgres` cannot reach would move to EMBEDDED_PG_ROOT_DIR.
  await chmod(folder, 0o755)
  embeddedPort = await freePort()
})
afterAll(() => rm(folder, { recursive: true, force: true }))

const env = () => ({ EMBEDDED_PG_DIR: join(folder, "postgres"), EMBEDDED_PG_PORT: String(embeddedPort) })

const bootstrap = () =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(repositoryRoot, "packages", "cli", "src", "main.ts"), "--json", "keys", "create", "--bootstrap"], {
      cwd: folder,
      env: { PATH: process.env.PATH ?? "", ...env() },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.once("exit", (code) => resolve({ code, stdout, stderr }))
  })

test("the first admin key from the CLI; the service then takes it; a second bootstrap is refused", async () => {
  const first = await bootstrap()
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" })
  const created = JSON.parse(first.stdout) as { key: string; keyId: string; scopes: Array<string> }
  expect(created.key).toStartWith("dwk_")
  expect(created.scopes).toEqual(["admin"])

  const port = await freePort()
  const main = startMain({ cwd: repositoryRoot, env: { ...env(), PORT: String(port), HOST: "127.0.0.1", ADMIN_API_KEY: "" } })
  try {
    expect(await healthWithin(main, `http://127.0.0.1:${port}`, 60_000)).toBe(200)
    const keys = await fetch(`http://127.0.0.1:${port}/api/keys`, { headers: { authorization: `Bearer ${created.key}` } })
    expect(keys.status).toBe(200)
    const items = ((await keys.json()) as { items: Array<{ keyId: string }> }).items
    // The service made none of its own: the bootstrapped key is the only one.
    expect(items.map((k) => k.keyId)).toEqual([created.keyId])
    expect(main.output()).not.toContain("Created the first admin API key")
  } finally {
    main.kill("SIGTERM")
    await exitWithin(main, 30_000)
  }

  const second = await bootstrap()
  expect(second.code).toBe(1)
  expect(second.stderr).toContain("already has API keys")
}, 240_000)
