import net from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A TCP proxy on loopback in front of any server (Azurite, sshd, an S3 or GCS emulator), cutting a
 * connection mid-transfer as a flaky network does: once it has relayed `afterBytes` in the watched
 * direction on a connection, it delivers exactly that many and resets the connection (both sides,
 * no FIN handshake) — once; later connections pass untouched. With `stall`, it goes silent instead,
 * keeping the connection open (a hung peer, which only a timeout can detect).
 */
export interface CuttingProxy {
  port: number;
  /** Connections cut (or stalled) so far. */
  readonly cuts: number;
  /** Cut again, on the next connection opened, after this many bytes in the watched direction. */
  armAgain(afterBytes: number): void;
  close(): Promise<void>;
}

export interface CuttingProxyOptions {
  targetPort: number;
  /** Default 127.0.0.1. */
  targetHost?: string;
  /** Bytes relayed in the watched direction before the cut; `Infinity` never cuts. */
  afterBytes: number;
  /** "download" (the default) watches bytes from the server; "upload" bytes to the server. */
  direction?: "download" | "upload";
  /** Go silent instead of cutting. */
  stall?: boolean;
  /** Sees every byte sent to the server, e.g. to check the headers a client sends. */
  onUpload?: (chunk: Buffer) => void;
}

export async function startCuttingProxy(options: CuttingProxyOptions): Promise<CuttingProxy> {
  let armed: number | undefined = options.afterBytes;
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(options.targetPort, options.targetHost ?? "127.0.0.1");
    sockets.add(client).add(upstream);
    const threshold = armed;
    let relayed = 0;
    const relay = (from: net.Socket, to: net.Socket, watched: boolean): void => {
      from.on("data", (chunk: Buffer) => {
        if (from === client) options.onUpload?.(chunk);
        if (watched && threshold !== undefined && armed !== undefined && relayed + chunk.length >= threshold) {
          armed = undefined;
          cuts += 1;
          to.write(chunk.subarray(0, Math.max(0, threshold - relayed)), () => {
            if (options.stall) {
              from.pause();
              from.removeAllListeners("data");
              return;
            }
            client.resetAndDestroy();
            upstream.destroy();
          });
          return;
        }
        if (watched) relayed += chunk.length;
        if (!to.write(chunk)) from.pause();
      });
      to.on("drain", () => from.resume());
    };
    const download = (options.direction ?? "download") === "download";
    relay(upstream, client, download);
    relay(client, upstream, !download);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get cuts() {
      return cuts;
    },
    armAgain: (afterBytes) => {
      armed = afterBytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
