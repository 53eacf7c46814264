import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { renderPrometheus } from "../observability/PrometheusText.ts"
import { WalletApi } from "./Api.ts"

export const MetricsHttpLive = HttpApiBuilder.group(WalletApi, "metrics", (handlers) =>
  handlers.handle("scrape", () => Effect.map(Metric.snapshot, renderPrometheus)))
