/** RFC 3339 in UTC with millisecond precision, e.g. 2026-11-28T05:23:23.123Z: TES timestamps. */
export function rfc3339(date: Date): string {
  return date.toISOString();
}
