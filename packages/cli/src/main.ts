#!/usr/bin/env bun
import { Command } from "@effect/cli"
import { BunContext, BunRuntime } from "@effect/platform-bun"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { bulk } from "./Bulk.ts"
import { root } from "./Cli.ts"
import { commands } from "./Commands.ts"

/** dino-wallet: every command talks to the service through @dino-wallet/client. */
const cli = Command.run(root.pipe(Command.withSubcommands([...commands, bulk])), {
  name: "dino-wallet",
  version: "1.0.0"
})

cli(process.argv).pipe(
  // A failure is one line on stderr and exit 1; --help and bad arguments are reported by @effect/cli.
  Effect.tapError((error) => error._tag === "CliFailure" ? Console.error(error.message) : Effect.void),
  Effect.provide(BunContext.layer),
  BunRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
