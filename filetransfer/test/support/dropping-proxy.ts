import net from "node:net";

/**
 * A TCP proxy on loopback that cuts connections mid-transfer, as a flaky network does: the first
 * `dropConnections` connections are destroyed (both sides, no FIN handshake) once `afterBytes`
 * bytes have passed in the watched direction; later connections pass untouched.
 */
export interface DroppingProxy {
  port: number;
  /** Connections cut so far. */
  readonly drops: number;
  /** Connections accepted so far. */
  readonly connections: number;
  stop(): Promise<void>;
}

export interface DroppingProxyOptions {
  targetPort: number;
  targetHost?: string;
  afterBytes: number;
  /** "download": bytes from the server; "upload": bytes to the server. */
  direction: "download" | "upload";
  dropConnections?: number;
  /** Sees every byte sent to the server, e.g. to check the headers a client sends. */
  onUpload?: (chunk: Buffer) => void;
}

export async function startDroppingProxy(options: DroppingProxyOptions): Promise<DroppingProxy> {
  let drops = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections += 1;
    const cut = connections <= (options.dropConnections ?? 1);
    const upstream = net.connect(options.targetPort, options.targetHost ?? "127.0.0.1");
    sockets.add(client).add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", forget);
    upstream.on("close", forget);
    let passed = 0;
    const watch = (chunk: Buffer) => {
      if (!cut) return;
      passed += chunk.length;
      if (passed >= options.afterBytes && !client.destroyed) {
        drops += 1;
        client.resetAndDestroy();
        upstream.destroy();
      }
    };
    (options.direction === "download" ? upstream : client).on("data", watch);
    if (options.onUpload) client.on("data", options.onUpload);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get drops() {
      return drops;
    },
    get connections() {
      return connections;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
