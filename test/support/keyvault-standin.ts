import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A STAND-IN for the Azure Key Vault secrets data plane, for tests only (no real vault can be
 * reached here). It speaks the part of the REST API @azure/keyvault-secrets uses to read secrets,
 * as shared/notes/ENTRA-AND-KEYVAULT.md §4 records it: https (a self-signed certificate for
 * 127.0.0.1, trusted by passing `ca` to the client), the bearer-token challenge (a request without
 * a token gets 401 and a `WWW-Authenticate: Bearer authorization=..., resource=...`), a required
 * api-version, `GET /secrets/{name}/{version?}` answering the service's JSON with Unix-second
 * dates, 404 SecretNotFound, 403 for a disabled secret. It checks the token only against the one it
 * is told to expect; it is not Key Vault and proves only that our client code speaks this shape.
 */
export interface StandinSecretVersion {
  readonly version: string;
  readonly value: string;
  enabled: boolean;
  readonly notBefore?: Date;
  readonly expiresOn?: Date;
}

const API_VERSIONS = new Set(["7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6-preview.2", "7.6", "2025-07-01", "2026-04-01"]);

export class KeyVaultStandin {
  /** The token requests must carry (what the test's credential hands out). */
  static readonly TOKEN = `standin-${randomBytes(8).toString("hex")}`;
  readonly tenantId = "00000000-0000-0000-0000-00000000c0de";
  /** Every request: method, path, whether it carried the expected token. */
  readonly requests: Array<{ method: string; path: string; authorized: boolean }> = [];
  private readonly secrets = new Map<string, StandinSecretVersion[]>();
  private server: Server | undefined;
  private dir = "";
  /** PEM of the self-signed certificate: give it to the client as `tlsOptions.ca`. */
  ca = "";
  vaultUrl = "";

  static async start(): Promise<KeyVaultStandin> {
    const standin = new KeyVaultStandin();
    await standin.listen();
    return standin;
  }

  /** Adds a new (latest) version of a secret; returns its version id. */
  setSecret(name: string, value: string, extra: Partial<Omit<StandinSecretVersion, "version" | "value">> = {}): string {
    const version = randomBytes(16).toString("hex");
    const versions = this.secrets.get(name) ?? [];
    versions.push({ version, value, enabled: extra.enabled ?? true, ...(extra.notBefore && { notBefore: extra.notBefore }), ...(extra.expiresOn && { expiresOn: extra.expiresOn }) });
    this.secrets.set(name, versions);
    return version;
  }

  disable(name: string): void {
    for (const version of this.secrets.get(name) ?? []) version.enabled = false;
  }

  /** `@Microsoft.KeyVault(SecretUri=...)` for a secret of this stand-in. */
  reference(name: string, version?: string): string {
    return `@Microsoft.KeyVault(SecretUri=${this.vaultUrl}/secrets/${name}/${version ?? ""})`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private listen(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), "kv-standin-"));
    const key = join(this.dir, "key.pem");
    const cert = join(this.dir, "cert.pem");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
    ], { stdio: "ignore" });
    this.ca = readFileSync(cert, "utf8");
    this.server = createServer({ key: readFileSync(key), cert: this.ca }, (req, res) => {
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      const authorized = req.headers.authorization === `Bearer ${KeyVaultStandin.TOKEN}`;
      this.requests.push({ method: req.method ?? "", path: url.pathname, authorized });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
        res.end(JSON.stringify(body));
      };
      req.resume();
      if (!authorized) {
        return json(401, { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } }, {
          "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/${this.tenantId}", resource="https://vault.azure.net"`,
        });
      }
      const apiVersion = url.searchParams.get("api-version");
      if (apiVersion === null || !API_VERSIONS.has(apiVersion)) {
        return json(400, { error: { code: "BadParameter", message: "The api-version is missing or not supported." } });
      }
      const match = /^\/secrets\/([0-9A-Za-z-]+)\/?([0-9a-f]*)$/.exec(url.pathname);
      if (req.method !== "GET" || match === null) return json(404, { error: { code: "NotFound", message: "not served by the stand-in" } });
      const [, name = "", wanted = ""] = match;
      const versions = this.secrets.get(name) ?? [];
      const secret = wanted === "" ? versions.at(-1) : versions.find((v) => v.version === wanted);
      if (secret === undefined) {
        return json(404, { error: { code: "SecretNotFound", message: `A secret with (name/id) ${name} was not found in this key vault.` } });
      }
      if (!secret.enabled) {
        return json(403, { error: { code: "Forbidden", message: "Operation get is not allowed on a disabled secret.", innererror: { code: "SecretDisabled" } } });
      }
      const seconds = (date: Date | undefined) => (date === undefined ? undefined : Math.floor(date.getTime() / 1000));
      json(200, {
        value: secret.value,
        id: `${this.vaultUrl}/secrets/${name}/${secret.version}`,
        attributes: {
          enabled: true,
          nbf: seconds(secret.notBefore),
          exp: seconds(secret.expiresOn),
          created: 1_700_000_000,
          updated: 1_700_000_000,
          recoveryLevel: "Recoverable+Purgeable",
          recoverableDays: 90,
        },
        tags: {},
      });
    });
    return new Promise((resolve) => {
      this.server!.listen(0, "127.0.0.1", () => {
        this.vaultUrl = `https://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }
}
