import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { CallerInfo } from "../domain/ApiKey.ts"
import { WalletApi } from "./Api.ts"
import { CurrentApiKey } from "./Auth.ts"

/** The key's middleware has already found the caller: the answer is what it found. */
export const WhoAmIHttpLive = HttpApiBuilder.group(WalletApi, "auth", (handlers) =>
  Effect.succeed(handlers.handle("whoami", () => Effect.map(CurrentApiKey, (caller) => new CallerInfo(caller)))))
