import dns from "node:dns";
import net from "node:net";
import { BLOCKED_MARKER, isBlockedAddressError, ProviderError } from "./provider-error.js";

/**
 * Refuses connections to link-local and cloud metadata addresses, so a task's URL cannot make the
 * compute node read its own instance credentials (169.254.169.254 and friends). The check runs on
 * the address actually connected to (through `lookup`, which agents and sockets call at connect
 * time), so a hostname that resolves, or later re-resolves, to a blocked address is refused too.
 */
export const DEFAULT_BLOCKED_SUBNETS: readonly string[] = [
  "169.254.0.0/16", // IPv4 link-local: AWS, Azure, GCP and OpenStack instance metadata
  "168.63.129.16/32", // Azure WireServer (host agent, goal state)
  "100.100.100.200/32", // Alibaba Cloud metadata
  "fe80::/10", // IPv6 link-local
  "fd00:ec2::254/128", // AWS metadata over IPv6
  "::a9fe:0/112", // IPv4-compatible IPv6 form of 169.254.0.0/16
  "64:ff9b::a9fe:0/112", // NAT64 form of 169.254.0.0/16
];

export interface AddressPolicyOptions {
  /** Allow the blocked addresses (a deliberate opt-out: FILETRANSFER_ALLOW_LINK_LOCAL=true). */
  allowLinkLocal?: boolean;
  /** Replaces DEFAULT_BLOCKED_SUBNETS: CIDR strings. */
  blockedSubnets?: readonly string[];
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

export class AddressPolicy {
  readonly #blockList = new net.BlockList();
  readonly #allowAll: boolean;

  constructor(options: AddressPolicyOptions = {}) {
    this.#allowAll = options.allowLinkLocal === true;
    for (const cidr of options.blockedSubnets ?? DEFAULT_BLOCKED_SUBNETS) {
      const [address, bits] = cidr.split("/");
      const family = net.isIP(address ?? "");
      const prefix = Number(bits);
      if (!address || family === 0 || !Number.isInteger(prefix)) {
        throw new Error(`blocked subnet "${cidr}" is not an address/prefix CIDR`);
      }
      this.#blockList.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
    }
  }

  /** True when connecting to this IP address is refused. */
  isBlocked(address: string): boolean {
    if (this.#allowAll) return false;
    const family = net.isIP(address);
    if (family === 0) return false;
    return this.#blockList.check(address, family === 4 ? "ipv4" : "ipv6");
  }

  /**
   * Refuses a host given as an IP literal in any spelling the URL standard and inet_aton accept
   * (decimal 2852039166, hex 0xa9fea9fe, octal 0251.0376.0251.0376, [::ffff:a9fe:a9fe]).
   * Hostnames are checked when they resolve, in `lookup`.
   */
  assertHostAllowed(host: string): void {
    const literal = canonicalIpLiteral(host);
    if (literal !== undefined && this.isBlocked(literal)) throw blockedError(host, literal);
  }

  /** Resolves a hostname and returns one allowed address, for clients that take no lookup hook. */
  async resolveAllowed(host: string): Promise<string> {
    this.assertHostAllowed(host);
    const literal = canonicalIpLiteral(host);
    if (literal !== undefined) return literal;
    const addresses = await dns.promises.lookup(host, { all: true });
    for (const { address } of addresses) if (this.isBlocked(address)) throw blockedError(host, address);
    const first = addresses[0];
    if (!first) throw new ProviderError("transient", `${host} resolved to no address`);
    return first.address;
  }

  /** A dns.lookup replacement for http.Agent, net.connect and tls.connect `lookup` options. */
  readonly lookup = (hostname: string, options: dns.LookupOptions | number | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === "function" ? options : callback) as LookupCallback;
    const opts: dns.LookupOptions = typeof options === "object" ? options : typeof options === "number" ? { family: options } : {};
    dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err, opts.all ? [] : "", undefined);
      for (const { address } of addresses) {
        if (this.isBlocked(address)) return cb(blockedError(hostname, address) as NodeJS.ErrnoException, opts.all ? [] : "", undefined);
      }
      if (opts.all) return cb(null, addresses);
      const first = addresses[0];
      if (!first) return cb(Object.assign(new Error(`${hostname} resolved to no address`), { code: "ENOTFOUND" }), "", undefined);
      cb(null, first.address, first.family);
    });
  };
}

function blockedError(host: string, address: string): ProviderError {
  return new ProviderError(
    "invalid",
    `refused to connect to ${host}${host === address ? "" : ` (${address})`}: ${BLOCKED_MARKER}; set FILETRANSFER_ALLOW_LINK_LOCAL=true to allow them`,
  );
}

export { isBlockedAddressError };

/** The canonical IP address a host string denotes, or undefined when it is a name. */
export function canonicalIpLiteral(host: string): string | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (net.isIP(bare)) return bare.toLowerCase();
  try {
    // The WHATWG host parser (as used for http URLs) turns every legacy IPv4 spelling into dotted decimal.
    const hostname = new URL(`http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}/`).hostname;
    const unbracketed = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    return net.isIP(unbracketed) ? unbracketed : undefined;
  } catch {
    return undefined;
  }
}
