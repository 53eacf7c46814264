import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { User } from "../domain/User.ts"
import type { Registration } from "../wallet/Users.ts"
import { Users } from "../wallet/Users.ts"
import { WalletApi } from "./Api.ts"

const encodeUser = Schema.encodeSync(User)

/** A replayed registration is the first answer again, marked as every replayed write is. */
const respond = (registration: Registration): User | HttpServerResponse.HttpServerResponse =>
  registration.replayed
    ? HttpServerResponse.unsafeJson(encodeUser(registration.user), {
      status: 201,
      headers: { "idempotent-replayed": "true" }
    })
    : registration.user

export const UsersHttpLive = HttpApiBuilder.group(WalletApi, "users", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users
    return handlers
      .handle("create", ({ payload }) => Effect.map(users.register(payload), respond))
      .handle("find", ({ urlParams }) => users.find(urlParams.username))
      .handle("get", ({ path }) => users.get(path.userId))
  }))
