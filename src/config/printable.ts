// Text from a config file is untrusted: a right-to-left override or a terminal escape in a name
// would make `las check`, the logs or an error message show something other than what the file
// says. Everything echoed from a config goes through printable(); a valid config holds none of it.

// Cc: C0, DEL, C1. Cf: invisible format characters, among them every bidi control (U+061C,
// U+200E/F, U+202A-E, U+2066-9) and zero-width ones. Cs: lone surrogates (JSON allows "\ud800").
// Zl/Zp: U+2028/U+2029, line breaks to a terminal.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

const hex = (c: string) => c.codePointAt(0)!.toString(16).toUpperCase();

/** The code point as it is escaped: \u202E, \u0007, \u{E0041}. */
export function escapeChar(c: string): string {
  const h = hex(c);
  return h.length <= 4 ? `\\u${h.padStart(4, '0')}` : `\\u{${h}}`;
}

/** The text with every control, bidi and invisible format character written as an escape. */
export function printable(text: string): string {
  return text.replace(UNSAFE_ALL, escapeChar);
}

/** The first unsafe character and its index (in UTF-16 units), if any. */
export function findUnsafe(text: string): { char: string; index: number } | undefined {
  const m = UNSAFE.exec(text);
  return m ? { char: m[0], index: m.index } : undefined;
}

/** "U+202E (a bidirectional control)": what the character is, for an error message. */
export function describeUnsafe(c: string): string {
  const code = `U+${hex(c).padStart(4, '0')}`;
  if (/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(c)) return `${code} (a bidirectional control that reorders what is shown)`;
  if (/\p{Cc}/u.test(c)) return `${code} (a control character)`;
  if (/\p{Cs}/u.test(c)) return `${code} (half of a surrogate pair, not a character)`;
  if (/[\u2028\u2029]/.test(c)) return `${code} (a line separator)`;
  return `${code} (an invisible formatting character)`;
}

/** printable() line by line: for messages whose own line breaks are meant (several errors). */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
