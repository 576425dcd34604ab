import type { AddressPolicy } from "./address-policy.js";
import { ProviderError } from "./provider-error.js";
import { redactUrl } from "./redact.js";
import type { StorageProvider } from "./storage-provider.js";

/** What a provider may need from the run that creates it. */
export interface ProviderContext {
  /** Every outgoing connection must pass it: use `lookup` on agents/sockets, or `resolveAllowed`. */
  addressPolicy: AddressPolicy;
  /** Environment to read credentials and endpoints from (process.env in the CLI). */
  env: Readonly<Record<string, string | undefined>>;
}

export type ProviderFactory = (context: ProviderContext) => StorageProvider;

/** Finds the provider for a URL by its scheme (and, when several share one, by `handles`). */
export class ProviderRegistry {
  readonly #providers: StorageProvider[] = [];

  /** Later registrations take precedence, so a caller can override a built-in provider. */
  register(provider: StorageProvider): this {
    this.#providers.unshift(provider);
    return this;
  }

  /** The provider for `url`, or a ProviderError naming the unsupported scheme. */
  resolve(url: URL): StorageProvider {
    const scheme = url.protocol.replace(/:$/, "").toLowerCase();
    const candidates = this.#providers.filter((provider) => provider.schemes.includes(scheme));
    const claiming = candidates.find((provider) => provider.handles?.(url) === true);
    const fallback = candidates.find((provider) => provider.handles === undefined);
    const chosen = claiming ?? fallback;
    if (!chosen) {
      const known = [...new Set(this.#providers.flatMap((p) => p.schemes))].sort().join(", ");
      throw new ProviderError("invalid", `no storage provider for "${scheme}:" URLs (${redactUrl(url)}); supported: ${known}`);
    }
    return chosen;
  }

  get schemes(): string[] {
    return [...new Set(this.#providers.flatMap((p) => p.schemes))].sort();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#providers.map((provider) => provider.close?.()));
  }
}
