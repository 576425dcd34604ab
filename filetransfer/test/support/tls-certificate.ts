import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

/**
 * A self-signed certificate for 127.0.0.1, made with the openssl CLI (Debian `openssl`), for
 * servers the tests run over TLS. Clients trust it through NODE_EXTRA_CA_CERTS=certFile.
 */
export async function selfSignedCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", keyFile, "-out", certFile,
  ]);
  return { certFile, keyFile };
}
