import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ManagedIdentityEndpoint {
  /** Set as IDENTITY_ENDPOINT, with IDENTITY_HEADER = header, for the process under test. */
  url: string;
  header: string;
  /** Token requests served, with the resource each asked for. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * The local token endpoint Azure gives a workload with a managed identity (the App Service
 * protocol: IDENTITY_ENDPOINT and IDENTITY_HEADER), so the real DefaultAzureCredential chain picks
 * it up. It issues unsigned JWTs with the claims Azurite's `--oauth basic` checks (issuer,
 * audience, expiry); Azurite does not check signatures.
 */
export async function startManagedIdentityEndpoint(tenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47"): Promise<ManagedIdentityEndpoint> {
  const header = `identity-header-${process.pid}`;
  const requests: string[] = [];
  const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.headers["x-identity-header"] !== header) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "unauthorized" }));
      return;
    }
    const resource = url.searchParams.get("resource") ?? "";
    requests.push(resource);
    const now = Math.floor(Date.now() / 1000);
    const claims = { aud: resource.replace(/\/$/, ""), iss: `https://sts.windows.net/${tenantId}/`, tid: tenantId, oid: "00000000-0000-0000-0000-000000000001", iat: now, nbf: now - 60, exp: now + 3600 };
    const token = `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.unsigned`;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: token, expires_on: String(now + 3600), resource, token_type: "Bearer" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/msi/token`,
    header,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
