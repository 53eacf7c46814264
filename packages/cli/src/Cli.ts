import { Command, Options } from "@effect/cli"
import { makeFetchWalletClient } from "@dino-wallet/client"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * What every command shares: where the service is, the key, and how to print. The root
 * command's options are read by the subcommands (`yield* root`), so `--url`, `--api-key` and
 * `--json` come before the subcommand: `dino-wallet --json balance 2`.
 */

const url = Options.text("url").pipe(
  Options.withDescription("The service's base URL (env DINO_WALLET_URL)"),
  Options.withFallbackConfig(Config.string("DINO_WALLET_URL")),
  Options.withDefault("http://localhost:3000")
)

const apiKey = Options.redacted("api-key").pipe(
  Options.withDescription("An API key (env DINO_WALLET_API_KEY)"),
  Options.withFallbackConfig(Config.redacted("DINO_WALLET_API_KEY")),
  Options.optional
)

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

export const root = Command.make("dino-wallet", { url, apiKey, json })

/** The client for this run, with the key of --api-key or DINO_WALLET_API_KEY. */
export const client = Effect.flatMap(root, (global) =>
  makeFetchWalletClient(global.url, { apiKey: Option.getOrUndefined(global.apiKey) }))

/** Decodes what the operator typed with the contract's own schema, so its limits apply here too. */
export const decode = <A, I>(schema: Schema.Schema<A, I>, input: unknown) => Schema.decodeUnknown(schema)(input)

/** A command that failed with a message for the operator; the process exits 1. */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string }> {}

/**
 * Prints an answer: its JSON encoding with --json (the API's own body), else the text given.
 * `encoded` is what the service sent, so --json output is what curl would have shown.
 */
export const print = (encoded: unknown, text: () => string) =>
  Effect.flatMap(root, (global) => Console.log(global.json ? JSON.stringify(encoded, null, 2) : text()))

/** An error the API answered with (code and message) becomes a one-line failure: "CODE: message". */
export const explained = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, CliFailure, R> =>
  Effect.mapError(effect, (error): CliFailure => {
    if (error instanceof CliFailure) return error
    if (typeof error === "object" && error !== null && "code" in error && "message" in error) {
      return new CliFailure({ message: `${String(error.code)}: ${String(error.message)}` })
    }
    return new CliFailure({ message: error instanceof Error ? error.message : String(error) })
  })
