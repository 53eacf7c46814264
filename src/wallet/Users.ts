import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import {
  type NewUser,
  User,
  type UserId,
  UserNotFound,
  UserProfile,
  type Username,
  UsernameNotFound,
  UsernameTaken
} from "../domain/User.ts"
import { UserRepository } from "../ledger/UserRepository.ts"

/** A registration's answer: the player, and whether an earlier registration had made it. */
export interface Registration {
  readonly user: User
  readonly replayed: boolean
}

const registered = (user: User, replayed: boolean): Registration => ({ user, replayed })

/**
 * Registering players and finding them again. A username names one player, so registering is
 * idempotent on it: a registration whose answer was lost is sent again and gets the same player
 * back, marked as a replay. A name that differs only in case from a taken one is still refused
 * (it would pose as the other player), as are the system accounts' names.
 */
export class Users extends Effect.Service<Users>()("Users", {
  effect: Effect.gen(function*() {
    const users = yield* UserRepository

    const register = Effect.fn("Users.register")(function*(request: NewUser) {
      const created = yield* users.create(request.username)
      if (Option.isSome(created)) {
        return registered(new User({ userId: created.value.id, username: request.username }), false)
      }
      const existing = yield* users.byName(request.username)
      if (Option.isSome(existing) && existing.value.kind === "USER" && existing.value.username === request.username) {
        return registered(new User({ userId: existing.value.userId, username: request.username }), true)
      }
      return yield* UsernameTaken.of(request.username)
    })

    const get = Effect.fn("Users.get")(function*(userId: UserId) {
      const found = yield* users.byId(userId)
      if (Option.isNone(found)) return yield* UserNotFound.of(userId)
      return new UserProfile(found.value)
    })

    const find = Effect.fn("Users.find")(function*(username: Username) {
      const found = yield* users.byName(username)
      if (Option.isNone(found)) return yield* UsernameNotFound.of(username)
      return new UserProfile(found.value)
    })

    return { register, get, find } as const
  })
}) {}
