import { AddressPolicy } from "../../src/address-policy.js";
import { createBuiltinRegistry } from "../../src/providers/builtin-providers.js";
import type { StorageProvider } from "../../src/storage-provider.js";
import { resolveTransferOptions } from "../../src/transfer-options.js";

/** The provider the engine's built-in registry picks for `scheme:` URLs, configured from `env`. */
export function providerFor(scheme: string, env: Record<string, string>): StorageProvider {
  const registry = createBuiltinRegistry({ env, addressPolicy: new AddressPolicy() }, resolveTransferOptions({ env }));
  return registry.resolve(new URL(`${scheme}://example.test/x`));
}

/**
 * Runs `use` with `providerFor(scheme, env)` and closes the provider afterwards, pass or fail, so
 * no connection outlives the test that opened it.
 */
export async function withProvider<T>(scheme: string, env: Record<string, string>, use: (provider: StorageProvider) => Promise<T>): Promise<T> {
  const provider = providerFor(scheme, env);
  try {
    return await use(provider);
  } finally {
    await provider.close?.();
  }
}
