import type { Json } from "./account-model.js";
import { errors, propertyError } from "./batch-error.js";
import { asObject, optionalString, requireObject, requireString } from "./request-validation.js";

/**
 * Checks a pool's virtualMachineConfiguration.containerConfiguration (shared/notes/AZURE-BATCH.md
 * §5): type dockerCompatible, image names as strings, and each registry signed in one way only,
 * a user name with a password, or an identityReference. The data plane cannot attach an identity to
 * a pool (§5 "Identity for ACR": PoolAddParameter has no `identity`), so an identityReference is
 * accepted only for identities the emulator is told are attached (standing for a pool made through
 * ARM); any other is refused. What the service itself answers for such a pool is unconfirmed; this
 * refusal keeps the backend from relying on something the data plane cannot set up.
 */
export function validateContainerConfiguration(vmConfig: Json, attachedIdentities: ReadonlySet<string>): void {
  const raw = vmConfig.containerConfiguration;
  if (raw === undefined || raw === null) return;
  const base = "virtualMachineConfiguration.containerConfiguration";
  const config = asObject(raw, base);
  const type = requireString(config, "type", `${base}.type`);
  if (type.toLowerCase() !== "dockercompatible") throw propertyError(errors.invalidPropertyValue, `${base}.type`, "must be dockerCompatible");
  const images = config.containerImageNames;
  if (images !== undefined && images !== null && (!Array.isArray(images) || images.some((image) => typeof image !== "string" || image === ""))) {
    throw propertyError(errors.invalidPropertyValue, `${base}.containerImageNames`, "must be a list of image names");
  }
  const registries = config.containerRegistries;
  if (registries === undefined || registries === null) return;
  if (!Array.isArray(registries)) throw propertyError(errors.invalidPropertyValue, `${base}.containerRegistries`, "must be a list");
  registries.forEach((item, i) => {
    const at = `${base}.containerRegistries[${i}]`;
    const registry = asObject(item, at);
    optionalString(registry, "registryServer", `${at}.registryServer`);
    const username = optionalString(registry, "username", `${at}.username`);
    const password = optionalString(registry, "password", `${at}.password`);
    const hasIdentity = registry.identityReference !== undefined && registry.identityReference !== null;
    if (hasIdentity && (username !== undefined || password !== undefined)) {
      throw propertyError(errors.invalidPropertyValue, `${at}.identityReference`, "cannot be combined with username and password");
    }
    if (hasIdentity) {
      const resourceId = requireString(requireObject(registry, "identityReference", `${at}.identityReference`), "resourceId", `${at}.identityReference.resourceId`);
      if (!attachedIdentities.has(resourceId.toLowerCase())) {
        throw propertyError(errors.invalidPropertyValue, `${at}.identityReference.resourceId`, "is not an identity of this pool; attach it to the pool through Azure Resource Manager");
      }
      return;
    }
    if (username === undefined) throw propertyError(errors.missingRequiredProperty, `${at}.username`);
    if (password === undefined) throw propertyError(errors.missingRequiredProperty, `${at}.password`);
  });
}
