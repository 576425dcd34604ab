import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { AddressPolicy, canonicalIpLiteral } from "./address-policy.js";
import { AzureBlobProvider } from "./providers/azure-blob-provider.js";
import { HttpProvider } from "./providers/http-provider.js";
import { ProviderError } from "./provider-error.js";

describe("AddressPolicy", () => {
  const policy = new AddressPolicy();

  it("refuses the metadata address in every spelling a URL or inet_aton accepts", () => {
    for (const host of [
      "169.254.169.254",
      "2852039166", // decimal
      "0xa9fea9fe", // hex
      "0251.0376.0251.0376", // octal
      "169.254.43518", // two-part form
      "0xa9.0xfe.0xa9.0xfe",
      "[::ffff:169.254.169.254]", // IPv4-mapped IPv6
      "[::ffff:a9fe:a9fe]",
      "[fd00:ec2::254]", // AWS IPv6 metadata
      "[fe80::1]", // IPv6 link-local
      "168.63.129.16", // Azure WireServer
    ]) {
      assert.throws(() => policy.assertHostAllowed(host), /link-local and cloud metadata addresses are blocked/, host);
    }
  });

  it("lets ordinary addresses and names through", () => {
    for (const host of ["127.0.0.1", "10.0.0.4", "[::1]", "example.org", "acct.blob.core.windows.net"]) policy.assertHostAllowed(host);
    assert.equal(canonicalIpLiteral("example.org"), undefined);
  });

  it("can be switched off deliberately", () => {
    new AddressPolicy({ allowLinkLocal: true }).assertHostAllowed("169.254.169.254");
  });

  it("checks the address a hostname resolves to when connecting, not only its spelling", async () => {
    const server = http.createServer((_req, res) => res.end("secret instance credentials"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      // Loopback stands in for a metadata address here: "localhost" passes the spelling check,
      // and only the connect-time lookup can see that it lands on a blocked address.
      const strict = new AddressPolicy({ blockedSubnets: ["127.0.0.0/8", "::1/128"] });
      const provider = new HttpProvider(strict, { maxRedirects: 5, idleTimeoutInMs: 5000 });
      const error = await provider.read(new URL(`http://localhost:${port}/latest/meta-data`), {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.kind, "invalid");
      assert.match(error.message, /refused to connect to localhost \((127\.0\.0\.1|::1)\)/);
      await provider.close();

      // The Azure SDK's connections go through the same check (its pipeline is given our agents).
      const blob = new AzureBlobProvider(strict, { pathStyleHosts: [`localhost:${port}`] });
      const blobError = await blob.read(new URL(`http://localhost:${port}/acct/container/blob.txt?sig=abc`), {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(blobError instanceof ProviderError, String(blobError));
      assert.equal(blobError.kind, "invalid", "a refused address is not retried");
      assert.match(blobError.message, /refused to connect to localhost \((127\.0\.0\.1|::1)\)/);
      await blob.close();
    } finally {
      server.close();
    }
  });
});
