import { createHmac } from "node:crypto";

/**
 * Host key checking against an OpenSSH known_hosts file, the way ssh(1) does it: plain host
 * patterns ("host", "[host]:port" for a port other than 22, comma-separated lists) and hashed ones
 * ("|1|salt|hmac" written by `ssh-keygen -H`). Wildcard patterns and @revoked/@cert-authority
 * markers are not honoured; such lines never match, so the check fails closed.
 */
export interface KnownHostEntry {
  hostPatterns: string[];
  keyType: string;
  /** The raw public key blob, as the server sends it. */
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#") || line.startsWith("@")) continue;
    const [hosts, keyType, keyBase64] = line.split(/\s+/);
    if (!hosts || !keyType || !keyBase64) continue;
    entries.push({ hostPatterns: hosts.split(","), keyType, key: Buffer.from(keyBase64, "base64") });
  }
  return entries;
}

/** The name ssh(1) looks up for a host and port: "host" on 22, "[host]:port" elsewhere. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function isKnownHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): boolean {
  const name = knownHostName(host, port);
  return entries.some((entry) => entry.key.equals(key) && entry.hostPatterns.some((pattern) => patternMatches(pattern, name)));
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
  }
  return pattern.toLowerCase() === name.toLowerCase();
}
