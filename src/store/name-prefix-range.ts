/**
 * The half-open range [prefix, upper) holding exactly the strings that start with `prefix`, under
 * code-point order: SQLite's BINARY collation and PostgreSQL's "C" collation on UTF-8 both compare
 * that way. A range uses the name index, and unlike LIKE it gives `%` and `_` in user input no
 * special meaning. `upper` is undefined when no string is above the range (the prefix is all U+10FFFF).
 */
export function namePrefixRange(prefix: string): { lower: string; upper: string | undefined } {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0) ?? 0);
  while (codePoints.length > 0) {
    const last = codePoints.pop() ?? 0;
    if (last < 0x10ffff) {
      // Surrogate code points do not exist in UTF-8; the next real one after U+D7FF is U+E000.
      codePoints.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
      return { lower: prefix, upper: codePoints.map((point) => String.fromCodePoint(point)).join("") };
    }
  }
  return { lower: prefix, upper: undefined };
}
