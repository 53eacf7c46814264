import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { MaxAmount, PositiveIntFromString } from "./Limits.ts"

export const UserId = Schema.Int.pipe(
  Schema.between(1, MaxAmount),
  Schema.brand("UserId"),
  Schema.annotations({ description: "Positive integer id of a user" })
)
export type UserId = typeof UserId.Type

/** A user id as it arrives in a path. */
export const UserIdFromString = PositiveIntFromString(MaxAmount).pipe(Schema.compose(UserId))

/** The treasury is the system account every topup and bonus is drawn from. */
export const TreasuryUserId = UserId.make(1)

export const UserKind = Schema.Literal("USER", "SYSTEM")
export type UserKind = typeof UserKind.Type

export const Username = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.-]{1,64}$/, {
    message: () => "expected 1 to 64 letters, digits, '_', '.' or '-'"
  }),
  Schema.brand("Username")
)
export type Username = typeof Username.Type

export class NewUser extends Schema.Class<NewUser>("NewUser")({ username: Username }) {}

export class User extends Schema.Class<User>("User")({ userId: UserId, username: Username }) {}

/**
 * A user as a lookup shows it. The name is any stored name, not a Username: system accounts
 * such as "$escrow" have names a player may not take.
 */
export class UserProfile extends Schema.Class<UserProfile>("UserProfile")({
  userId: UserId,
  username: Schema.String,
  kind: UserKind,
  createdAt: Schema.Date
}) {}

/** The query of a lookup by name; names are unique whatever their case, so the match ignores case. */
export const UserQuery = Schema.Struct({ username: Username })

export class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  {
    code: errorCode("USER_NOT_FOUND"),
    message: Schema.String,
    userId: Schema.Number,
    /** The leg of a multi-leg transaction that names the user; absent elsewhere. */
    legIndex: Schema.optional(Schema.Int)
  },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(userId: number, legIndex?: number) {
    return new UserNotFound({
      userId,
      message: `User ${userId} does not exist`,
      ...(legIndex === undefined ? {} : { legIndex })
    })
  }
}

/** A lookup by name that finds no one: the same code as a lookup by id, naming the name. */
export class UsernameNotFound extends Schema.TaggedError<UsernameNotFound>()(
  "UsernameNotFound",
  { code: errorCode("USER_NOT_FOUND"), message: Schema.String, username: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(username: string) {
    return new UsernameNotFound({ username, message: `No user is named ${username}` })
  }
}

export class UsernameTaken extends Schema.TaggedError<UsernameTaken>()(
  "UsernameTaken",
  { code: errorCode("USERNAME_TAKEN"), message: Schema.String, username: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(username: string) {
    return new UsernameTaken({ username, message: `Username ${username} is taken` })
  }
}

/**
 * System accounts (the treasury) are moved only as the other side of a player's posting, or
 * as a side of a multi-leg transaction: never by a transfer between players.
 */
export class SystemAccount extends Schema.TaggedError<SystemAccount>()(
  "SystemAccount",
  { code: errorCode("SYSTEM_ACCOUNT"), message: Schema.String, userId: Schema.Number },
  HttpApiSchema.annotations({ status: 422 })
) {
  static of(userId: number) {
    return new SystemAccount({ userId, message: `User ${userId} is a system account and cannot be the target of a player write` })
  }
}

/** A transfer, or a leg of a multi-leg transaction, from a user to the same user. */
export class SameWallet extends Schema.TaggedError<SameWallet>()(
  "SameWallet",
  {
    code: errorCode("SAME_WALLET"),
    message: Schema.String,
    userId: Schema.Number,
    /** The leg of a multi-leg transaction; absent for a transfer. */
    legIndex: Schema.optional(Schema.Int)
  },
  HttpApiSchema.annotations({ status: 422 })
) {
  static of(userId: number, legIndex?: number) {
    return new SameWallet({
      userId,
      message: `User ${userId} is both sides${legIndex === undefined ? "" : ` of leg ${legIndex}`}: money must move between two users`,
      ...(legIndex === undefined ? {} : { legIndex })
    })
  }
}
