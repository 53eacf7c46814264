import { Command, Options } from "@effect/cli"
import { BulkItemsMax, BulkWriteRequest } from "@dino-wallet/client"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { CliFailure, client, explained, print } from "./Cli.ts"

/**
 * `bulk --file payouts.csv`: one write per row through the bulk endpoint, in chunks, with a
 * progress bar on stderr. Columns (header row first): userId, amount, and optionally assetCode,
 * reason (stored as metadata) and idempotencyKey. A row without a key gets one made from the
 * file's content and its line, so running the same file again replays instead of paying twice.
 */

interface Row {
  readonly line: number
  readonly fields: Record<string, string>
}

const parseCsv = (text: string): ReadonlyArray<Row> => {
  const lines = text.split(/\r?\n/).map((line, index) => ({ line: index + 1, text: line.trim() })).filter((l) => l.text !== "")
  const [header, ...rows] = lines
  if (header === undefined) return []
  const names = header.text.split(",").map((name) => name.trim())
  return rows.map((row) => {
    const values = row.text.split(",").map((value) => value.trim())
    return { line: row.line, fields: Object.fromEntries(names.map((name, i) => [name, values[i] ?? ""])) }
  })
}

const bar = (done: number, total: number) => {
  const width = 30
  const filled = total === 0 ? width : Math.round((done / total) * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`
}

export const bulk = Command.make("bulk", {
  file: Options.file("file", { exists: "yes" }).pipe(Options.withDescription("CSV: userId,amount[,assetCode][,reason][,idempotencyKey]")),
  type: Options.choice("type", ["BONUS", "TOPUP", "SPEND"]).pipe(Options.withDefault("BONUS" as const)),
  asset: Options.text("asset").pipe(Options.withDefault("GOLD_COINS")),
  chunk: Options.integer("chunk").pipe(Options.withDefault(200), Options.withDescription(`Rows per request (1 to ${BulkItemsMax})`))
}, ({ asset, chunk, file, type }) =>
  Effect.gen(function*() {
    if (chunk < 1 || chunk > BulkItemsMax) return yield* new CliFailure({ message: `--chunk must be 1 to ${BulkItemsMax}` })
    const text = yield* Effect.promise(() => readFile(file, "utf8"))
    const fileKey = createHash("sha256").update(text).digest("hex").slice(0, 16)
    const rows = parseCsv(text)
    const items = rows.map((row) => ({
      type,
      userId: Number(row.fields.userId),
      amount: Number(row.fields.amount),
      assetCode: row.fields.assetCode || asset,
      idempotencyKey: row.fields.idempotencyKey || `bulk-${fileKey}-${row.line}`,
      ...(row.fields.reason ? { metadata: { reason: row.fields.reason } } : {})
    }))
    const wallet = yield* client
    const results: Array<{ line: number; status: number; body: unknown }> = []
    const tty = process.stderr.isTTY === true
    process.stderr.write(`${bar(0, items.length)}${tty ? "" : "\n"}`)
    for (let start = 0; start < items.length; start += chunk) {
      const payload = yield* Schema.decodeUnknown(BulkWriteRequest)({ items: items.slice(start, start + chunk) }).pipe(
        Effect.mapError((error) => new CliFailure({ message: `rows from line ${rows[start]!.line}: ${error.message}` }))
      )
      const answer = yield* wallet.wallets.bulk({ payload })
      for (const result of answer.results) results.push({ line: rows[start + result.index]!.line, status: result.status, body: result.body })
      process.stderr.write(`${tty ? "\r" : ""}${bar(results.length, items.length)}${tty ? "" : "\n"}`)
    }
    if (tty) process.stderr.write("\n")
    const refused = results.filter((r) => r.status !== 201)
    yield* print({ results }, () =>
      [
        `${results.length - refused.length} applied, ${refused.length} refused`,
        ...refused.map((r) => `line ${r.line}: ${r.status} ${(r.body as { code?: string; message?: string }).code ?? ""} ${(r.body as { message?: string }).message ?? ""}`)
      ].join("\n"))
    if (refused.length > 0) return yield* new CliFailure({ message: `${refused.length} of ${results.length} rows were refused` })
  }).pipe(explained)).pipe(Command.withDescription("Writes from a CSV file through the bulk endpoint, with a progress bar"))
