import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"

/**
 * Effect's metric snapshot in the Prometheus text exposition format (version 0.0.4), so any
 * Prometheus-compatible scraper reads /api/metrics without an agent in between.
 */
export const renderPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { help: string | undefined; type: string; lines: Array<string> }>()
  const family = (name: string, type: string, help: string | undefined) => {
    let existing = families.get(name)
    if (existing === undefined) {
      existing = { help, type, lines: [] }
      families.set(name, existing)
    }
    return existing.lines
  }
  for (const { metricKey, metricState } of pairs) {
    const name = sanitize(metricKey.name)
    const tags = metricKey.tags.map((tag) => [sanitize(tag.key), tag.value] as const)
    const help = metricKey.description._tag === "Some" ? metricKey.description.value : undefined
    if (MetricState.isCounterState(metricState)) {
      family(name, "counter", help).push(`${name}${labels(tags)} ${metricState.count}`)
    } else if (MetricState.isGaugeState(metricState)) {
      family(name, "gauge", help).push(`${name}${labels(tags)} ${metricState.value}`)
    } else if (MetricState.isHistogramState(metricState)) {
      const lines = family(name, "histogram", help)
      // Effect ends the boundaries with Infinity, which Prometheus spells "+Inf" (written below).
      for (const [bound, count] of metricState.buckets) {
        if (!Number.isFinite(bound)) continue
        lines.push(`${name}_bucket${labels([...tags, ["le", String(bound)]])} ${count}`)
      }
      lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${metricState.count}`)
      lines.push(`${name}_sum${labels(tags)} ${metricState.sum}`)
      lines.push(`${name}_count${labels(tags)} ${metricState.count}`)
    } else if (MetricState.isFrequencyState(metricState)) {
      const lines = family(name, "counter", help)
      for (const [value, count] of metricState.occurrences) {
        lines.push(`${name}${labels([...tags, ["value", value]])} ${count}`)
      }
    }
  }
  return [...families].flatMap(([name, { help, lines, type }]) => [
    ...(help === undefined ? [] : [`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`]),
    `# TYPE ${name} ${type}`,
    ...lines
  ]).join("\n") + "\n"
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_")

const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0
    ? ""
    : `{${pairs.map(([key, value]) => `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")}"`).join(",")}}`
