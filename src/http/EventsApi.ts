import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { EventPage, EventQuery, EventsLimitDefault, EventsLimitMax } from "../domain/Event.ts"
import { needsRead } from "./Auth.ts"

/** The contract's events feed (its webhooks are WebhooksApi). */
export class EventsApi extends HttpApiGroup.make("events")
  .annotate(OpenApi.Description, "The feed of what the ledger committed, in order, to follow from a sequence.")
  .add(
    HttpApiEndpoint.get("feed", "/events")
      .setUrlParams(EventQuery)
      .addSuccess(EventPage)
      .pipe(needsRead)
      .annotate(OpenApi.Summary, "Events in feed order: one transaction.posted per committed ledger transaction")
      .annotate(
        OpenApi.Description,
        "Each event's data is the body of GET /api/transactions/{id} as it was when the transaction was posted. " +
          "sequence is gap-free and strictly increasing; an event appears once it is numbered, shortly after its commit, " +
          "and never below a sequence already shown. Resume with after=nextAfter of the previous page (omitted: from " +
          `the oldest event kept, EVENTS_RETENTION). limit is 1 to ${EventsLimitMax} (default ${EventsLimitDefault}).`
      )
  )
{}
