import { expect, test } from "bun:test"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ShutdownBudget, ShutdownTimeout, shutdownWorstCase } from "../../src/Shutdown.ts"
import { PoolConfig } from "../../src/Sql.ts"

/**
 * The SIGTERM path must fit orchestrators' defaults: Kubernetes sends SIGKILL 30 s after
 * SIGTERM. With every setting at its default, the worst case (every drain to its limit, then the
 * batch in flight to the query timeout, then the embedded database's stop) must end well before.
 */

const withSettings = <A, E>(config: Effect.Effect<A, E>, settings: Record<string, string> = {}) =>
  Effect.runSync(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(settings)))))

const budgetOf = Effect.provide(ShutdownBudget, ShutdownBudget.Default)

test("with the defaults, the SIGTERM path's worst case ends at least 3 s before Kubernetes' 30 s", () => {
  const shutdownTimeout = withSettings(ShutdownTimeout)
  const { timeouts } = withSettings(PoolConfig)
  const worst = shutdownWorstCase(shutdownTimeout, timeouts.queryTimeoutMs)
  console.log(`[shutdown] worst case with the defaults: ${Duration.format(worst)}`)
  expect(Duration.toMillis(worst)).toBeLessThanOrEqual(27_000)
})

test("every drain is cut to what is left of SHUTDOWN_TIMEOUT, whatever its own timeout", async () => {
  const budget = withSettings(budgetOf, { SHUTDOWN_TIMEOUT: "1 second" })
  // The defaults of the phases alone (10 s + 10 s + 10 s) would pass it three times over.
  const first = Duration.toMillis(await Effect.runPromise(budget.within("10 seconds")))
  expect(first).toBeLessThanOrEqual(1_000)
  expect(first).toBeGreaterThan(0)
  // The deadline is one, started by the first phase to ask: the later phases share what is left.
  await Bun.sleep(1_100)
  expect(Duration.toMillis(await Effect.runPromise(budget.within("10 seconds")))).toBe(0)
  expect(Duration.toMillis(await Effect.runPromise(budget.remaining))).toBe(0)
  // A phase's own timeout, when shorter, stays its bound.
  const fresh = withSettings(budgetOf)
  expect(Duration.toMillis(Effect.runSync(fresh.within("3 seconds")))).toBe(3_000)
})
