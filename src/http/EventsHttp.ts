import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { EventFeed } from "../wallet/EventFeed.ts"
import { WalletApi } from "./Api.ts"

export const EventsHttpLive = HttpApiBuilder.group(WalletApi, "events", (handlers) =>
  Effect.map(EventFeed, (feed) => handlers.handle("feed", ({ urlParams }) => feed.page(urlParams))))
