import { expect } from "bun:test"
import type { TestService } from "./TestService.ts"

/** An event as the feed's JSON carries it. */
export interface EventJson {
  readonly id: string
  readonly sequence: number
  readonly type: string
  readonly createdAt: string
  readonly data: { readonly transactionId: string; readonly reversedBy: ReadonlyArray<string> } & Record<string, unknown>
}

export interface FeedPage {
  readonly events: ReadonlyArray<EventJson>
  readonly nextAfter: number
}

/** One page of GET /api/events with a base URL and a key of its own, or the test service's. */
export const feedPage = async (service: Pick<TestService, "fetch">, query: string): Promise<FeedPage> => {
  const response = await service.fetch(`/api/events?${query}`)
  expect(response.status).toBe(200)
  return await response.json() as FeedPage
}

/**
 * Pages through the feed from `after` until it holds at least `count` events or `timeoutMs`
 * passes (events appear once numbered, shortly after their commit). Every event once, in order.
 */
export const readFeedUntil = async (service: Pick<TestService, "fetch">, count: number, timeoutMs = 20_000, limit = 1000) => {
  const events: Array<EventJson> = []
  let after = 0
  const deadline = Date.now() + timeoutMs
  while (events.length < count && Date.now() < deadline) {
    const page = await feedPage(service, `after=${after}&limit=${limit}`)
    events.push(...page.events)
    after = page.nextAfter
    if (page.events.length === 0) await Bun.sleep(20)
  }
  return events
}

/** Sequences 1..n in order, each event id once. */
export const expectGapFree = (events: ReadonlyArray<EventJson>, first = 1) => {
  expect(events.map((event) => event.sequence)).toEqual(events.map((_, i) => first + i))
  expect(new Set(events.map((event) => event.id)).size).toBe(events.length)
}
