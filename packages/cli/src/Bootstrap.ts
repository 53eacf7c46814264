import { CreatedApiKey } from "@dino-wallet/client"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { CliFailure } from "./Cli.ts"

/**
 * `keys create --bootstrap` needs the database, not the API (there is no key yet to call it
 * with), so it runs the service's own src/bootstrap.ts from the checkout this CLI sits in, in
 * the current folder (where `npm start` keeps .data/) with the current environment
 * (DATABASE_URL, EMBEDDED_PG_DIR). The CLI itself still imports nothing of the server.
 */
const script = join(import.meta.dir, "..", "..", "..", "src", "bootstrap.ts")

const decodeCreated = Schema.decodeUnknownOption(CreatedApiKey)

export const bootstrapKey = Effect.async<CreatedApiKey, CliFailure>((resume) => {
  if (!existsSync(script)) {
    resume(Effect.fail(new CliFailure({ message: `--bootstrap runs from a checkout of the service: ${script} is missing` })))
    return
  }
  const child = spawn(process.execPath, ["run", script], {
    env: { ...process.env, LOG_LEVEL: "warn", LOG_FORMAT: "json" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
  child.once("exit", (code) => {
    const lines = stdout.split("\n").filter((line) => line.trim() !== "")
    const answer = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        return {}
      }
    })
    const created = answer.map((line) => decodeCreated(line)).find(Option.isSome)
    if (code === 0 && created !== undefined) {
      resume(Effect.succeed(created.value))
      return
    }
    // The script's failure is its one FATAL log line, which says what to do.
    const fatal = answer.find((line) => line.logLevel === "FATAL")
    resume(Effect.fail(new CliFailure({ message: String(fatal?.message ?? (stderr.trim() || `the bootstrap exited with ${code}`)) })))
  })
  return Effect.sync(() => child.kill("SIGTERM"))
})
