import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"

/**
 * The support console: a page for support staff (find a player, see balances, history and a
 * transaction's legs, grant a bonus or reverse a transaction with a reason), written in plain
 * HTML, CSS and JavaScript under http/console/ and served from memory. It talks to the public API
 * with the key its user signs in with, so it can do exactly what that key may do, and nothing
 * of the server is special to it. No CDN and no build step: it works offline, and what is
 * served is what is in the repository.
 */
export const consoleAssets = [
  { path: "/console", file: "index.html", contentType: "text/html; charset=utf-8" },
  { path: "/console/console.js", file: "console.js", contentType: "text/javascript; charset=utf-8" },
  { path: "/console/console.css", file: "console.css", contentType: "text/css; charset=utf-8" }
] as const

/**
 * Only the page's own script, styles and API calls: no inline script (an injected one would not
 * run), no other origin, no frames, no forms posted elsewhere. The key sits in the page's
 * sessionStorage, so keeping script out of the page is what keeps the key.
 */
export const consoleContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

const headers = {
  "content-security-policy": consoleContentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // A new version of the service serves its new page at once.
  "cache-control": "no-cache"
}

/**
 * The files are read once, as the module loads: a missing one is a broken build, and the
 * server's layer is then built without waiting on the disk. The server binds its port before
 * its handler is installed (platform-bun answers a plain "not found" until then), and with
 * WORKERS the kernel already sends connections to a worker in that window: every await there
 * widens it.
 */
const bodies = consoleAssets.map((asset) => readFileSync(new URL(`./console/${asset.file}`, import.meta.url), "utf8"))

export const ConsoleLive = HttpApiBuilder.Router.use((router) =>
  Effect.forEach(consoleAssets, (asset, i) =>
    router.get(asset.path, Effect.succeed(HttpServerResponse.text(bodies[i]!, { contentType: asset.contentType, headers }))), {
    discard: true
  })
)
