import net from "node:net";
import type { AddressInfo } from "node:net";

export interface CutOnceProxy {
  port: number;
  /** Connections cut so far (0 or 1). */
  cuts: () => number;
  /** Cut the next connection again, after this many server-to-client bytes. */
  armAgain: (afterBytes: number) => void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback in front of any server (Azurite, sshd, an S3 or GCS emulator): it
 * forwards bytes both ways, and once it has relayed `cutAfterBytes` from the server towards the
 * client on a connection, it destroys that connection — once — to prove a transfer survives a
 * connection dropped mid-transfer. With `stall`, it goes silent instead, keeping the connection
 * open (a hung peer, which only a timeout can detect). Later connections pass untouched.
 */
export async function startCutOnceProxy(
  target: { host: string; port: number },
  cutAfterBytes: number,
  options: { stall?: boolean } = {},
): Promise<CutOnceProxy> {
  let armed: number | undefined = cutAfterBytes;
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const threshold = armed;
    let relayed = 0;
    upstream.on("data", (chunk: Buffer) => {
      if (threshold !== undefined && armed !== undefined && relayed + chunk.length >= threshold) {
        armed = undefined;
        cuts += 1;
        client.write(chunk.subarray(0, Math.max(0, threshold - relayed)), () => {
          if (options.stall) {
            upstream.pause();
            upstream.removeAllListeners("data");
            return;
          }
          client.destroy();
          upstream.destroy();
        });
        return;
      }
      relayed += chunk.length;
      if (!client.write(chunk)) upstream.pause();
    });
    client.on("drain", () => upstream.resume());
    client.on("data", (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on("drain", () => client.resume());
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
    cuts: () => cuts,
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
