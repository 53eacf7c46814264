import * as Schema from "effect/Schema"
import { BoundedText } from "./Limits.ts"

export const MetadataKeysMax = 16
export const MetadataValueCharsMax = 256

const metadataKeyPattern = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * A client's own references kept with a transaction (an order id, a store receipt): at most 16
 * keys, each to a string of at most 256 characters. Part of a write's fingerprint, returned
 * wherever the transaction is, and searchable. The database checks the same shape.
 *
 * The keys are checked by a filter, not a refined key schema: a Record drops the keys its key
 * schema refuses instead of failing, and a dropped key would be a silent loss.
 */
export const Metadata = Schema.Record({
  key: Schema.String,
  value: BoundedText({ minChars: 0, maxChars: MetadataValueCharsMax })
}).pipe(
  Schema.filter((metadata) => {
    const keys = Object.keys(metadata)
    if (keys.length > MetadataKeysMax) return `expected at most ${MetadataKeysMax} keys, got ${keys.length}`
    const bad = keys.find((key) => !metadataKeyPattern.test(key))
    return bad === undefined || `expected keys of 1 to 64 letters, digits, '_', '.' or '-', got ${JSON.stringify(bad.slice(0, 70))}`
  }),
  Schema.annotations({
    description: `At most ${MetadataKeysMax} keys of [A-Za-z0-9_.-]{1,64}, each to a string of at most ${MetadataValueCharsMax} characters`
  })
)
export type Metadata = typeof Metadata.Type

/** In responses: always an object, {} for a transaction written without metadata (or before it existed). */
export const MetadataField = Schema.optionalWith(Metadata, { default: () => ({}) })

/** Key order carries no meaning: the same pairs in any order are the same metadata. */
export const canonicalMetadata = (metadata: Metadata): ReadonlyArray<readonly [string, string]> =>
  Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
