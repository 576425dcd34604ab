import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, EnvReader, type Env } from "./env-reader.js";

/**
 * What GET /service-info says about this deployment. Everything here is public by nature: none of
 * these settings may hold a secret, and storage locations are stripped of credentials and query
 * strings (SAS tokens) before they are shown.
 */
export interface ServiceInfoConfig {
  /** TES_SERVICE_ID (default "org.ga4gh.tes.azure"): reverse-domain id of this deployment. */
  readonly id: string;
  /** TES_SERVICE_NAME (default "TES on Azure"). */
  readonly name: string;
  /** TES_SERVICE_DESCRIPTION (optional). */
  readonly description?: string;
  /** TES_ORGANIZATION_NAME (default "Unnamed organization") and TES_ORGANIZATION_URL (default "https://example.org"). */
  readonly organization: { readonly name: string; readonly url: string };
  /** TES_CONTACT_URL (optional; https or http, since clients reject mailto: here). */
  readonly contactUrl?: string;
  /** TES_DOCUMENTATION_URL (optional). */
  readonly documentationUrl?: string;
  /** TES_SERVICE_CREATED_AT (optional, RFC 3339). */
  readonly createdAt?: string;
  /** TES_SERVICE_UPDATED_AT (optional, RFC 3339). */
  readonly updatedAt?: string;
  /** TES_ENVIRONMENT (optional): "prod", "test", "dev", ... */
  readonly environment?: string;
  /** TES_SERVICE_VERSION (default: this package's version). */
  readonly version: string;
  /** TES_STORAGE (optional, comma-separated): storage locations to advertise besides the backend's own. */
  readonly storage: readonly string[];
}

export function loadServiceInfoConfig(env: Env): ServiceInfoConfig {
  const read = new EnvReader(env);
  return {
    id: read.string("TES_SERVICE_ID", "org.ga4gh.tes.azure"),
    name: read.string("TES_SERVICE_NAME", "TES on Azure"),
    description: read.optionalString("TES_SERVICE_DESCRIPTION"),
    organization: {
      name: read.string("TES_ORGANIZATION_NAME", "Unnamed organization"),
      url: webUrl("TES_ORGANIZATION_URL", read.string("TES_ORGANIZATION_URL", "https://example.org")),
    },
    contactUrl: optionalWebUrl(read, "TES_CONTACT_URL"),
    documentationUrl: optionalWebUrl(read, "TES_DOCUMENTATION_URL"),
    createdAt: optionalTimestamp(read, "TES_SERVICE_CREATED_AT"),
    updatedAt: optionalTimestamp(read, "TES_SERVICE_UPDATED_AT"),
    environment: read.optionalString("TES_ENVIRONMENT"),
    version: read.string("TES_SERVICE_VERSION", packageVersion()),
    storage: read.list("TES_STORAGE").map(publicStorageLocation),
  };
}

/**
 * A storage location fit to publish: user, password, query (a SAS token) and fragment removed.
 * Bare paths and other non-URL strings are kept as they are.
 */
export function publicStorageLocation(location: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return location;
  }
  if (url.username === "" && url.password === "" && url.search === "" && url.hash === "") return location;
  url.username = "";
  url.password = "";
  url.search = "";
  url.hash = "";
  return url.toString();
}

function webUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http or https URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`${name} must be an http or https URL, got a ${url.protocol} URL`);
  }
  if (url.username !== "" || url.password !== "") throw new ConfigError(`${name} must not contain credentials`);
  return value;
}

function optionalWebUrl(read: EnvReader, name: string): string | undefined {
  const value = read.optionalString(name);
  return value === undefined ? undefined : webUrl(name, value);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function optionalTimestamp(read: EnvReader, name: string): string | undefined {
  const value = read.optionalString(name);
  if (value === undefined) return undefined;
  if (!RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ConfigError(`${name} must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z, got "${value}"`);
  }
  return value;
}

/** The version in the nearest package.json above this file: works from src/ (tsx) and dist/ alike. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "tes-azure" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // No package.json here; keep climbing.
    }
    const parent = dirname(dir);
    if (parent === dir) return "0.0.0";
    dir = parent;
  }
}
