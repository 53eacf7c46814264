import * as Schema from "effect/Schema"

/**
 * 2^53 - 1: the largest integer every JSON client reads exactly. Amounts, balances and the
 * treasury's (negative) balance all stay within it, and the database checks the same bound.
 */
export const MaxAmount = Number.MAX_SAFE_INTEGER

/** Characters, not UTF-16 units: "💎" is one character, as it is for PostgreSQL's varchar. */
export const characterCount = (text: string): number => {
  let count = 0
  for (const _ of text) count++
  return count
}

/**
 * Free text from a client, bounded in characters. NUL is refused at the edge because
 * PostgreSQL cannot store it in text columns, and a late failure there would be a 500.
 */
export const BoundedText = (options: { readonly minChars: number; readonly maxChars: number }) =>
  Schema.String.pipe(
    Schema.filter((text) => {
      const count = characterCount(text)
      if (count < options.minChars || count > options.maxChars) {
        return `expected ${options.minChars} to ${options.maxChars} characters, got ${count}`
      }
      return text.includes("\u0000") ? "expected no NUL characters" : true
    }, { jsonSchema: { minLength: options.minChars, maxLength: options.maxChars } })
  )

/**
 * A non-negative integer that travels as a decimal string (path and query parameters). Only
 * plain digits are accepted: "1e3", "0x10" and " 7" are not ids.
 *
 * The OpenAPI document says `integer` with its bounds, which is what a parameter is to a client
 * (a generated client then takes a number, and the URL carries its digits); left alone, the
 * document would describe the string the server decodes, and generated clients would type ids
 * and limits as strings.
 */
export const PositiveIntFromString = (max: number, min = 0) =>
  Schema.String.pipe(
    Schema.pattern(/^[0-9]{1,16}$/, { message: () => "expected a decimal integer" }),
    Schema.compose(Schema.NumberFromString),
    Schema.int(),
    Schema.between(min, max),
    Schema.annotations({ jsonSchema: { type: "integer", minimum: min, maximum: max } })
  )
