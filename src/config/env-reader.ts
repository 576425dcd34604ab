/**
 * Reads typed settings from environment variables, once, at start-up. Every bad value fails with a
 * ConfigError that names the variable and says what was expected, never echoing a secret's value.
 *
 * Each part of the server keeps its own settings in its own file here (server.ts, store.ts, ...),
 * each a `loadXConfig(env)` built from these readers.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export class EnvReader {
  constructor(private readonly env: Env) {}

  /** A string, or `fallback` when unset or empty. */
  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === "" ? fallback : value;
  }

  /** A string, or undefined when unset or empty. */
  optionalString(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === "" ? undefined : value;
  }

  /** An integer within [min, max]. */
  integer(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
    const value = Number(raw.trim());
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (value < min || value > max) {
      throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
    }
    return value;
  }

  /** A number within [min, max]. */
  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    const value = Number(raw.trim());
    if (!Number.isFinite(value)) throw new ConfigError(`${name} must be a number, got "${raw}"`);
    const { min = -Infinity, max = Infinity } = range;
    if (value < min || value > max) {
      throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
    }
    return value;
  }

  /** true/false, 1/0, yes/no, on/off. */
  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optionalString(name)?.trim().toLowerCase();
    if (raw === undefined) return fallback;
    if (["true", "1", "yes", "on"].includes(raw)) return true;
    if (["false", "0", "no", "off"].includes(raw)) return false;
    throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  }

  /** One of a fixed set of words. */
  oneOf<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    const match = choices.find((choice) => choice === raw.trim().toLowerCase());
    if (match === undefined) {
      throw new ConfigError(`${name} must be one of ${choices.join(", ")}, got "${raw}"`);
    }
    return match;
  }

  /** A comma-separated list, trimmed, without empty items. */
  list(name: string, fallback: readonly string[] = []): string[] {
    const raw = this.optionalString(name);
    if (raw === undefined) return [...fallback];
    return raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
  }

  /** A URL; the error never repeats the value, which may carry a password. */
  optionalUrl(name: string): URL | undefined {
    const raw = this.optionalString(name);
    if (raw === undefined) return undefined;
    try {
      return new URL(raw);
    } catch {
      throw new ConfigError(`${name} must be a URL`);
    }
  }
}
