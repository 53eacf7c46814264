/**
 * The deepest a request body may nest. Every body of the contract is at most three levels deep
 * ({ items: [ { … } ] }); the headroom is for clients that send extra fields. Far deeper bodies
 * fit in 64 KiB ("[" is one byte a level) and overflowed the stack of the schema decoder's
 * error formatting (a 500), so they are refused before they are decoded.
 */
export const MaxJsonDepth = 32

/**
 * Whether JSON text nests deeper than `max` arrays and objects. One pass over the text, no
 * recursion and no parse, so it costs the same whatever the depth; brackets inside strings
 * (escapes included) do not count. Text that is not JSON is left to the parser to refuse.
 */
export const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}
