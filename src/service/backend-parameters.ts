import { errors, quote } from "./errors.js";

export interface ReducedBackendParameters {
  /** The supported keys, under the backend's canonical spelling. */
  kept: Record<string, string>;
  /** The keys given that the backend does not support, as the client spelled them. */
  dropped: string[];
}

/**
 * TES 1.1 §backend_parameters: keys are case-insensitive. Supported keys are kept under the
 * backend's canonical spelling; unsupported ones are refused when backend_parameters_strict is set
 * (the compliance suite expects 400 at create), else dropped, neither stored nor returned.
 */
export function reduceBackendParameters(
  given: Readonly<Record<string, string>>,
  supported: readonly string[],
  strict: boolean,
): ReducedBackendParameters {
  const canonical = new Map(supported.map((key) => [key.toLowerCase(), key]));
  const kept: Record<string, string> = {};
  const spelledAs = new Map<string, string>();
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(given)) {
    const name = canonical.get(key.toLowerCase());
    if (name === undefined) {
      dropped.push(key);
      continue;
    }
    const earlier = spelledAs.get(name);
    if (earlier !== undefined) throw errors.duplicateBackendParameter(earlier, key);
    spelledAs.set(name, key);
    kept[name] = value;
  }
  if (strict && dropped.length > 0) throw errors.unsupportedBackendParameters(dropped, supported);
  return { kept, dropped };
}

/** The system_logs line that tells the user which keys were ignored; never the values. */
export function droppedParametersWarning(dropped: readonly string[], backendName: string, supported: readonly string[]): string {
  const keys = dropped.map((key) => quote(key)).join(", ");
  const plural = dropped.length === 1 ? "key" : "keys";
  const known = supported.length === 0 ? "none" : supported.join(", ");
  return `backend_parameters ${plural} ${keys} not supported by the ${backendName} backend and ignored (supported: ${known})`;
}
