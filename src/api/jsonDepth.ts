/**
 * JSON nesting depth, measured on the raw bytes before parsing. Deeply nested
 * values pass JSON.parse but break recursive code after it (validation,
 * serialization, logging), and parsing a huge nest blocks the event loop, so
 * they are refused up front by one linear scan: no allocation, aware of
 * strings and their escapes. `{}` and `[]` are one level; the document's
 * outer object counts.
 *
 * Works on UTF-8 bytes: `"`, `\`, brackets and braces are ASCII and never
 * occur inside a multi-byte sequence.
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

export function nestedDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if ((byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) && depth > 0) {
      // Unbalanced closers are JSON.parse's to refuse; never let them buy extra depth.
      depth--;
    }
  }
  return false;
}

export function tooDeepMessage(maxDepth: number): string {
  return `JSON nested deeper than ${maxDepth} levels`;
}
