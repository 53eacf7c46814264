import { afterAll, beforeAll, expect, test } from "bun:test"
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { startService, type TestService } from "../support/TestService.ts"

/**
 * The served OpenAPI document as other tools take it: Redocly's linter with its recommended
 * rules finds no error, and the types openapi-typescript generates from it give path and query
 * numbers as numbers, so a program that passes numeric ids type-checks (and one that passes a
 * string id does not, which shows the check can fail).
 */

const run = promisify(execFile)
const root = join(import.meta.dir, "..", "..")
const bin = (name: string) => join(root, "node_modules", ".bin", name)

let service: TestService
let folder: string
beforeAll(async () => {
  service = await startService()
  folder = await mkdtemp(join(tmpdir(), "dino-openapi-"))
  const served = await fetch(`${service.baseUrl}/api/openapi.json`)
  expect(served.status).toBe(200)
  await writeFile(join(folder, "openapi.json"), await served.text())
})
afterAll(async () => {
  await service.dispose()
  await rm(folder, { recursive: true, force: true })
})

/** Runs a tool with plain node; its exit code, stdout and stderr whatever the code. */
const node = async (args: ReadonlyArray<string>) => {
  try {
    const { stdout, stderr } = await run("node", [...args], { cwd: folder, maxBuffer: 32 * 1024 * 1024 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string }
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" }
  }
}

test("redocly lint, recommended rules: no errors", async () => {
  const linted = await node([bin("redocly"), "lint", "--extends=recommended", "--format=json", "openapi.json"])
  const report = JSON.parse(linted.stdout) as {
    totals: { errors: number; warnings: number }
    problems: Array<{ ruleId: string; severity: string; message: string }>
  }
  expect(report.problems.filter((p) => p.severity === "error")).toEqual([])
  expect(report.totals.errors).toBe(0)
  expect(linted.code).toBe(0)
  // The one warning left: the document names no licence URL, since the project grants none yet.
  expect(report.problems.map((p) => p.ruleId)).toEqual(["info-license-strict"])
}, 120_000)

const program = (userId: string) => `
import type { paths } from "./api.ts"

type Balance = paths["/api/wallets/{userId}/balance"]["get"]
type History = paths["/api/wallets/{userId}/transactions"]["get"]
type Search = paths["/api/transactions"]["get"]
type UserById = paths["/api/users/{userId}"]["get"]

const balance: Balance["parameters"] = { path: { userId: ${userId} }, query: { assetCode: "GOLD_COINS" } }
const history: NonNullable<History["parameters"]["query"]> = { limit: 50, offset: 0 }
const search: NonNullable<Search["parameters"]["query"]> = { userId: 2, limit: 10 }
const user: UserById["parameters"]["path"] = { userId: 2 }

const answer: Balance["responses"][200]["content"]["application/json"] = { userId: 2, assetCode: "GOLD_COINS", balance: 10, held: 0 }
const url = \`/api/wallets/\${balance.path.userId + 0}/transactions?limit=\${(history.limit ?? 20) + 1}\`
export { answer, search, url, user }
`

test("openapi-typescript types from the served document take numeric ids and limits", async () => {
  const generated = await node([bin("openapi-typescript"), "openapi.json", "--output", "api.ts"])
  expect(generated.code).toBe(0)
  await writeFile(join(folder, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "bundler",
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      types: []
    },
    files: ["program.ts"]
  }))
  const check = () => node([join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"])

  await writeFile(join(folder, "program.ts"), program("2"))
  const numeric = await check()
  expect(numeric.stdout + numeric.stderr).toBe("")
  expect(numeric.code).toBe(0)

  await writeFile(join(folder, "program.ts"), program(`"2"`))
  const stringly = await check()
  expect(stringly.code).not.toBe(0)
  expect(stringly.stdout).toContain("error TS2322")
}, 120_000)
