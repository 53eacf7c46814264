import * as Schema from "effect/Schema"

/**
 * Every error body carries a stable UPPER_SNAKE `code` for programs and a `message` for
 * people. The code is fixed per error class, so constructors never pass it.
 */
export const errorCode = <const Code extends string>(code: Code) =>
  Schema.Literal(code).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => code))
