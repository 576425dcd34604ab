/**
 * ISO-8601 durations as Batch sends and expects them (shared/notes/AZURE-BATCH.md §2 "JSON":
 * durations are strings; "unbounded" is P10675199DT2H48M5.4775807S, .NET's TimeSpan.MaxValue).
 */
export const UNBOUNDED = "P10675199DT2H48M5.4775807S";
const UNBOUNDED_MS = Number.MAX_SAFE_INTEGER;

/** Milliseconds, or undefined when the text is not a day-time duration. */
export function parseDuration(text: string): number | undefined {
  if (text === UNBOUNDED) return UNBOUNDED_MS;
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text);
  if (m === null || text === "P" || text.endsWith("T")) return undefined;
  const [, d = "0", h = "0", min = "0", s = "0"] = m;
  const ms = ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s) * 1000;
  return Math.min(ms, UNBOUNDED_MS);
}

export function formatDuration(ms: number): string {
  if (ms >= UNBOUNDED_MS) return UNBOUNDED;
  let rest = Math.max(0, Math.round(ms));
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  let out = "P";
  if (days > 0) out += `${days}D`;
  if (hours > 0 || minutes > 0 || seconds > 0 || days === 0) {
    out += "T";
    if (hours > 0) out += `${hours}H`;
    if (minutes > 0) out += `${minutes}M`;
    if (seconds > 0 || (hours === 0 && minutes === 0)) out += `${seconds}S`;
  }
  return out;
}
