/**
 * Builds the package from the service's own contract: src/client.ts and what it imports (the
 * contract in src/http/Api.ts and Auth.ts, and domain/) are bundled into one ES module with
 * effect and @effect/platform left as imports, and tsc writes their declarations. The service
 * keeps importing its contract from src/, so nothing moves and the tree stays one-way; this
 * build fails if the client's imports ever reach a `node:` module or a server package.
 */
import { readdir, readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"

const here = import.meta.dir
const dist = join(here, "dist")
const allowed = new Set(["effect", "@effect/platform"])

await rm(dist, { recursive: true, force: true })

const built = await Bun.build({
  entrypoints: [join(here, "..", "..", "src", "client.ts")],
  outdir: dist,
  naming: "index.js",
  target: "browser",
  format: "esm",
  packages: "external",
  sourcemap: "linked"
})
if (!built.success) {
  for (const log of built.logs) console.error(log)
  process.exit(1)
}

const bundle = await readFile(join(dist, "index.js"), "utf8")
const imported = [...bundle.matchAll(/^import\b[^;]*?from\s*"([^"]+)"/gms)].map((m) => m[1]!)
const foreign = imported.filter((specifier) => !allowed.has(specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")))
if (foreign.length > 0) {
  console.error(`the client bundle imports ${[...new Set(foreign)].join(", ")}: only ${[...allowed].join(", ")} may be`)
  process.exit(1)
}

const tsc = Bun.spawnSync([process.execPath, join(here, "..", "..", "node_modules", "typescript", "bin", "tsc"), "-p", join(here, "tsconfig.build.json")], {
  stdout: "inherit",
  stderr: "inherit"
})
if (tsc.exitCode !== 0) process.exit(tsc.exitCode ?? 1)

// The sources import each other as "./x.ts" (Bun runs them as they are); a declaration that a
// consumer's TypeScript resolves must name "./x.js", which finds x.d.ts in every resolution mode.
const rewrite = async (folder: string): Promise<void> => {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) {
      await rewrite(path)
    } else if (entry.name.endsWith(".d.ts")) {
      const text = await readFile(path, "utf8")
      await writeFile(path, text.replace(/(from\s+|import\()"(\.{1,2}\/[^"]+)\.ts"/g, '$1"$2.js"'))
    }
  }
}
await rewrite(join(dist, "types"))
console.log(`built ${join(dist, "index.js")} (${bundle.length} bytes) and its declarations`)
