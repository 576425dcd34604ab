/**
 * Azure Container Registry through the node's user-assigned managed identity, with no secret
 * anywhere in Batch: an access token for the identity from the Instance Metadata Service (IMDS),
 * exchanged at the registry for an ACR refresh token, which a container client presents as the
 * password of the user 00000000-0000-0000-0000-000000000000.
 *
 * Request and response shapes, as documented:
 * - IMDS ("How to use managed identities for Azure resources on an Azure VM to acquire an access
 *   token", learn.microsoft.com): `GET http://169.254.169.254/metadata/identity/oauth2/token
 *   ?api-version=2018-02-01&resource=…&mi_res_id=…` with the header `Metadata: true`; answers
 *   `{access_token, expires_in, expires_on, resource, token_type}` (times as strings). Errors are
 *   `{error, error_description}`: 400 for an identity the VM does not have ("Identity not found")
 *   or a missing Metadata header; 404, 410, 429 and 5xx while "IMDS is updating" or throttling,
 *   to be retried with backoff.
 * - ACR ("Exchange AAD tokens for an ACR refresh Token", REST `POST {url}/oauth2/exchange`,
 *   form data `grant_type=access_token`, `service` = the registry's host, `tenant` (optional),
 *   `access_token`): answers `{refresh_token}`; a token it does not accept is a 401 with
 *   `{errors:[{code, message}]}`.
 * Errors thrown from here name the registry, identity and status, never a token.
 */
export interface AcrEndpoints {
  /** IMDS's base URL: http://169.254.169.254 on Azure VMs; a local stand-in in tests. */
  imdsUrl: string;
  /** The registry's base URL for its host: https://<server> in production. */
  registryUrl: (server: string) => string;
  /** Waits before the retries of an IMDS answer that asks for one (404, 410, 429, 5xx). */
  imdsRetryDelaysMs: readonly number[];
  timeoutMs: number;
}

export const AZURE_ENDPOINTS: AcrEndpoints = {
  imdsUrl: "http://169.254.169.254",
  registryUrl: (server) => `https://${server}`,
  // IMDS asks for retries of 410 over at least 70 s; these add up to 75 s.
  imdsRetryDelaysMs: [1000, 2000, 4000, 8000, 15_000, 15_000, 15_000, 15_000],
  timeoutMs: 30_000,
};

/** The user name an ACR refresh token is presented with (ACR's documented "null GUID"). */
export const ACR_TOKEN_USERNAME = "00000000-0000-0000-0000-000000000000";

/** ARM's audience: a token for it is what `az acr login` exchanges, and ACR accepts it. */
const RESOURCE = "https://management.azure.com/";

export class RegistryLoginError extends Error {
  override readonly name = "RegistryLoginError";
}

/** An IMDS access token for the user-assigned identity with this resource id. */
export async function imdsAccessToken(endpoints: AcrEndpoints, identityResourceId: string, signal?: AbortSignal): Promise<string> {
  const url = new URL("/metadata/identity/oauth2/token", endpoints.imdsUrl);
  url.searchParams.set("api-version", "2018-02-01");
  url.searchParams.set("resource", RESOURCE);
  url.searchParams.set("mi_res_id", identityResourceId);
  const identity = identityResourceId.split("/").at(-1);
  for (let attempt = 0; ; attempt += 1) {
    let response: Response;
    try {
      response = await fetch(url, { headers: { Metadata: "true" }, signal: withTimeout(endpoints.timeoutMs, signal) });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (attempt < endpoints.imdsRetryDelaysMs.length) {
        await sleep(endpoints.imdsRetryDelaysMs[attempt] as number, signal);
        continue;
      }
      throw new RegistryLoginError(`the node's Instance Metadata Service does not answer (${(error as Error).message}); is this an Azure VM?`);
    }
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (response.ok && typeof body?.access_token === "string" && body.access_token !== "") return body.access_token;
    const retryable = response.status === 404 || response.status === 410 || response.status === 429 || response.status >= 500;
    if (retryable && attempt < endpoints.imdsRetryDelaysMs.length) {
      await sleep(endpoints.imdsRetryDelaysMs[attempt] as number, signal);
      continue;
    }
    const why = typeof body?.error_description === "string" ? body.error_description : typeof body?.error === "string" ? body.error : response.ok ? "no access_token in the answer" : "no detail";
    const hint = response.status === 400 || response.status === 404 ? "; the pool's nodes need this user-assigned identity attached (through ARM)" : "";
    throw new RegistryLoginError(`the node's managed identity ${identity} gave no token (IMDS HTTP ${response.status}: ${why})${hint}`);
  }
}

/** Exchanges an Entra access token at the registry for an ACR refresh token. */
export async function acrRefreshToken(endpoints: AcrEndpoints, server: string, accessToken: string, signal?: AbortSignal): Promise<string> {
  const form = new URLSearchParams({ grant_type: "access_token", service: server, access_token: accessToken });
  const tenant = tenantOf(accessToken);
  if (tenant !== undefined) form.set("tenant", tenant);
  let response: Response;
  try {
    response = await fetch(`${endpoints.registryUrl(server)}/oauth2/exchange`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form,
      signal: withTimeout(endpoints.timeoutMs, signal),
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new RegistryLoginError(`the registry ${server} does not answer its token exchange (${(error as Error).message})`);
  }
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (response.ok && typeof body?.refresh_token === "string" && body.refresh_token !== "") return body.refresh_token;
  const first = Array.isArray(body?.errors) ? (body.errors[0] as Record<string, unknown> | undefined) : undefined;
  const why = typeof first?.message === "string" ? first.message : response.ok ? "no refresh_token in the answer" : "no detail";
  const hint = response.status === 401 || response.status === 403 ? "; the identity needs the AcrPull role on the registry" : "";
  throw new RegistryLoginError(`the registry ${server} refused the node identity's token (HTTP ${response.status}: ${why})${hint}`);
}

/** The tenant an Entra token was issued in (its `tid` claim), read without verifying: ACR checks the token. */
function tenantOf(jwt: string): string | undefined {
  const payload = jwt.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    return typeof claims.tid === "string" ? claims.tid : undefined;
  } catch {
    return undefined;
  }
}

function withTimeout(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}
