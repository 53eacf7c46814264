import { afterAll, beforeAll, expect, test } from "bun:test"
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { consoleContentSecurityPolicy } from "../../src/http/Console.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * The support console in the machine's Chromium, driven by playwright-core, against the real
 * service: sign in with a key, find a player by username and by id, grant a bonus with a reason
 * and see the new balance and the history row, reverse it; a read-only key sees no write
 * button. Under CI=true a missing Chromium fails the suite (.ci/run installs it); elsewhere the
 * browser tests are skipped with the reason printed.
 *
 * With CONSOLE_SCREENSHOTS_DIR set, the sign-in, the player and the page after the grant are
 * saved there as PNG files, to be looked at by a person.
 */

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const haveChromium = existsSync(chromiumPath)
const onCi = process.env.CI === "true"
if (!haveChromium && !onCi) {
  console.log(`Skipping the console's browser tests: no Chromium at ${chromiumPath} (apt-get install chromium)`)
}
const browserTest = haveChromium || onCi ? test : test.skip

const screenshotsDir = process.env.CONSOLE_SCREENSHOTS_DIR
if (screenshotsDir !== undefined) mkdirSync(screenshotsDir, { recursive: true })
const screenshot = async (page: Page, name: string) => {
  if (screenshotsDir !== undefined) await page.screenshot({ path: join(screenshotsDir, `${name}.png`), fullPage: true })
}

let service: TestService
let browser: Browser | undefined
const keys = { support: "", readOnly: "" }
let player: { userId: number; username: string }

beforeAll(async () => {
  service = await startService()
  const createKey = async (name: string, scopes: ReadonlyArray<string>) => {
    const created = await postJson(service, "/api/keys", { name, scopes })
    expect(created.status).toBe(201)
    return created.body.key as string
  }
  keys.support = await createKey("support agent", ["read", "write"])
  keys.readOnly = await createKey("support viewer", ["read"])
  const registered = await postJson(service, "/api/users", { username: uniqueKey("rex").replace(/[^A-Za-z0-9_]/g, "_").slice(0, 30) })
  expect(registered.status).toBe(201)
  player = registered.body as { userId: number; username: string }
  if (haveChromium || onCi) {
    // As root Chromium refuses to start without --no-sandbox; the page is our own.
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] })
  }
})
afterAll(async () => {
  await browser?.close()
  await service.dispose()
})

/** A fresh page (its own sessionStorage) that fails the test on any script error or CSP violation. */
const newPage = async () => {
  const context = await browser!.newContext({ viewport: { width: 1200, height: 900 } })
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 40\d/.test(message.text())) problems.push(`console: ${message.text()}`)
  })
  return { page, problems, close: () => context.close() }
}

const signIn = async (page: Page, key: string, name: string) => {
  await page.goto(`${service.baseUrl}/console`)
  await page.locator("#api-key").fill(key)
  await page.locator("#sign-in-form button[type=submit]").click()
  await page.locator("#key-name", { hasText: name }).waitFor()
}

const find = async (page: Page, query: string) => {
  await page.locator("#player-query").fill(query)
  await page.locator("#find-form button[type=submit]").click()
  await page.locator("#player-title", { hasText: player.username }).waitFor()
}

const balanceCell = (page: Page, assetCode: string) => page.locator(`#balances tr[data-asset="${assetCode}"] td.balance`)

test("the console is one HTML page under a strict Content-Security-Policy; unknown console paths are JSON 404s", async () => {
  const page = await fetch(`${service.baseUrl}/console`)
  expect(page.status).toBe(200)
  expect(page.headers.get("content-type")).toContain("text/html")
  expect(page.headers.get("content-security-policy")).toBe(consoleContentSecurityPolicy)
  expect(consoleContentSecurityPolicy).toContain("script-src 'self'")
  expect(consoleContentSecurityPolicy).not.toContain("unsafe-inline")
  const html = await page.text()
  // Every script and style is a file of the service's own: nothing from another origin, nothing inline.
  expect(html).not.toMatch(/https?:\/\//)
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/)
  expect(html).not.toContain("<style")
  for (const asset of ["/console/console.js", "/console/console.css"]) {
    const answer = await fetch(service.baseUrl + asset)
    expect({ asset, status: answer.status }).toEqual({ asset, status: 200 })
    expect(await answer.text()).not.toMatch(/https?:\/\/(?!localhost)/)
  }
  for (const path of ["/console/nope.js", "/console/console.js.map", "/console/index.html"]) {
    const missing = await fetch(service.baseUrl + path)
    expect({ path, status: missing.status }).toEqual({ path, status: 404 })
    expect(await missing.json()).toMatchObject({ code: "ROUTE_NOT_FOUND" })
  }
  const posted = await fetch(`${service.baseUrl}/console`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
  expect(posted.status).toBe(405)
})

browserTest("a support agent signs in, finds a player, grants a bonus with a reason, sees it, and reverses it", async () => {
  const { page, problems, close } = await newPage()
  await page.goto(`${service.baseUrl}/console`)
  await page.locator("#api-key").waitFor()
  await screenshot(page, "1-sign-in")

  // A wrong key is refused and the page stays signed out.
  await page.locator("#api-key").fill(`dwk_${"X".repeat(43)}`)
  await page.locator("#sign-in-form button[type=submit]").click()
  await page.locator("#notice.error", { hasText: "not valid" }).waitFor()
  expect(await page.locator("#workspace").isHidden()).toBe(true)

  await signIn(page, keys.support, "support agent")
  expect(await page.locator("#key-scopes").textContent()).toBe("readwrite")
  // The key is in this tab's sessionStorage, and nowhere else the page could keep it.
  const stored = await page.evaluate("({ session: Object.values(sessionStorage), local: localStorage.length, cookie: document.cookie })")
  expect(stored).toEqual({ session: [keys.support], local: 0, cookie: "" })

  await find(page, player.username)
  expect(await balanceCell(page, "GOLD_COINS").textContent()).toBe("0")
  expect(await page.locator("#balances tr[data-asset=GOLD_COINS] td.held").textContent()).toBe("0")
  expect(await page.locator("#history tbody tr.empty").count()).toBe(1)
  await screenshot(page, "2-player")

  // No reason: nothing is sent.
  await page.locator("#grant-asset").selectOption("GOLD_COINS")
  await page.locator("#grant-amount").fill("250")
  await page.locator("#grant-submit").click()
  await page.locator("#notice.error", { hasText: "reason is required" }).waitFor()
  expect(await balanceCell(page, "GOLD_COINS").textContent()).toBe("0")

  await page.locator("#grant-reason").fill("Ticket T-1234: lost coins after a crash")
  await page.locator("#grant-submit").click()
  await page.locator("#balances tr[data-asset=GOLD_COINS] td.balance", { hasText: "250" }).waitFor()
  await page.locator("#notice", { hasText: "Granted 250 GOLD_COINS" }).waitFor()
  const row = page.locator("#history tbody tr").first()
  await row.filter({ hasText: "Ticket T-1234" }).waitFor()
  expect(await row.locator("td").nth(1).textContent()).toBe("BONUS")
  expect(await row.locator("td").nth(3).textContent()).toBe("+250")
  await screenshot(page, "3-after-grant")

  // The reason is stored with the transaction, as metadata.
  const history = await service.fetch(`/api/wallets/${player.userId}/transactions`)
  const [entry] = ((await history.json()) as { items: Array<{ transactionId: string; metadata: unknown }> }).items
  expect(entry!.metadata).toEqual({ reason: "Ticket T-1234: lost coins after a crash", source: "support-console" })

  // A transaction's legs, then its reversal, with a reason too.
  await row.locator("button.link").click()
  await page.locator("#transaction-fields dd", { hasText: entry!.transactionId }).waitFor()
  expect(await page.locator("#transaction-legs tbody tr").count()).toBe(1)
  expect(await page.locator("#transaction-legs tbody tr td").nth(1).textContent()).toBe("1")
  expect(await page.locator("#transaction-legs tbody tr td").nth(2).textContent()).toBe(String(player.userId))
  await page.locator("#reverse-submit").click()
  await page.locator("#notice.error", { hasText: "reason is required" }).waitFor()
  await page.locator("#reverse-reason").fill("Granted to the wrong player")
  await page.locator("#reverse-submit").click()
  await page.locator("#balances tr[data-asset=GOLD_COINS] td.balance", { hasText: /^0$/ }).waitFor()
  await page.locator("#transaction-fields dd", { hasText: /^[0-9a-f-]{36}$/ }).nth(1).waitFor()
  const lookup = async (id: string) =>
    (await (await service.fetch(`/api/transactions/${id}`)).json()) as { reversedBy: Array<string>; metadata: unknown }
  const reversed = await lookup(entry!.transactionId)
  expect(reversed.reversedBy).toHaveLength(1)
  const reversal = await lookup(reversed.reversedBy[0]!)
  expect(reversal.metadata).toEqual({ reason: "Granted to the wrong player", source: "support-console" })

  // Paging: with more entries than a page, Older shows the next page through nextCursor.
  for (let i = 0; i < 10; i++) {
    expect((await postJson(service, "/api/wallets/topup", {
      userId: player.userId, assetCode: "DIAMONDS", amount: i + 1, idempotencyKey: uniqueKey("console-page")
    })).status).toBe(201)
  }
  await page.locator("#refresh").click()
  await page.locator("#history tbody tr td", { hasText: "TOPUP" }).first().waitFor()
  expect(await page.locator("#history-older").isEnabled()).toBe(true)
  await page.locator("#history-older").click()
  await page.locator("#history-page", { hasText: "Page 2" }).waitFor()
  expect(await page.locator("#history tbody tr").count()).toBe(2)
  await page.locator("#history-first").click()
  await page.locator("#history-page", { hasText: "Page 1" }).waitFor()

  // The player's holds: none, then one placed by the shop, listed with its status and opened by id.
  expect(await page.locator("#holds tbody tr.empty").count()).toBe(1)
  const hold = await postJson(service, "/api/holds", {
    userId: player.userId, assetCode: "DIAMONDS", amount: 7, idempotencyKey: uniqueKey("console-hold")
  })
  expect(hold.status).toBe(201)
  await page.locator("#refresh").click()
  const holdRow = page.locator(`#holds tbody tr[data-hold="${hold.body.holdId}"]`)
  await holdRow.waitFor()
  expect(await holdRow.locator("td.status").textContent()).toBe("HELD")
  await holdRow.locator("button").click()
  await page.locator("#hold-fields dd", { hasText: hold.body.holdId as string }).waitFor()

  // Found by id as well as by name; signing out forgets the key.
  await page.locator("#player-query").fill("3")
  await page.locator("#find-form button[type=submit]").click()
  await page.locator("#player-title", { hasText: "Player #3 · lokendra" }).waitFor()
  await find(page, String(player.userId))
  await page.locator("#sign-out").click()
  await page.locator("#sign-in").waitFor()
  expect(await page.evaluate("sessionStorage.length")).toBe(0)

  expect(problems).toEqual([])
  await close()
})

browserTest("a read-only key sees balances, history and legs, and no write button", async () => {
  const { page, problems, close } = await newPage()
  await signIn(page, keys.readOnly, "support viewer")
  await find(page, player.username)
  await page.locator("#history tbody tr button.link").first().waitFor()
  expect(await page.locator("#grant").isHidden()).toBe(true)
  await page.locator("#history tbody tr button.link").first().click()
  await page.locator("#transaction").waitFor()
  expect(await page.locator("#reverse-form").isHidden()).toBe(true)
  // No visible button of the page writes anything.
  const visibleWriteButtons = await page.locator("button:visible", { hasText: /grant|reverse/i }).count()
  expect(visibleWriteButtons).toBe(0)
  await screenshot(page, "4-read-only")
  expect(problems).toEqual([])
  await close()
})
