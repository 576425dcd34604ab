import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killSessions, requireRoot, startOnFreePort, stopProcess } from "./server-process.js";

/**
 * OpenSSH's sshd (Debian openssh-server) on a loopback port, with a generated host key and one
 * authorized client key, no PAM and no password logins. It serves SFTP through internal-sftp; the
 * test user is root (key only), so `root` is the absolute path of the files it serves.
 */
export interface SshServer {
  /** sftp://root@127.0.0.1:PORT/ROOT — the directory the tests read and write. */
  url: string;
  port: number;
  root: string;
  credentials: { username: string; privateKeyFile: string; knownHostsFile: string; hostPublicKey: string };
  /** Settings for the SFTP provider (FILETRANSFER_SFTP_*). */
  env: Record<string, string>;
  /** A known_hosts line for this server's key when reached through another port (a proxy). */
  knownHostsLine(port: number): string;
  /** Ends every open SSH session, as a dropped network would; the server keeps listening. */
  dropSessions(): number;
  stop(): Promise<void>;
}

export async function startSshServer(): Promise<SshServer> {
  requireRoot("the SFTP tests' sshd");
  const dir = mkdtempSync(join(tmpdir(), "ft-sshd-"));
  const root = join(dir, "files");
  mkdirSync(root);
  const hostKey = join(dir, "host_ed25519");
  const clientKey = join(dir, "client_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "filetransfer-test-host", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "filetransfer-test-client", "-f", clientKey]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`));
  const hostPublicKey = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      "PidFile none",
      "UsePAM no",
      // The temp dir's modes are not what StrictModes wants for a home; the keys are ours anyway.
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "AllowUsers root",
      "Subsystem sftp internal-sftp",
      "MaxStartups 100",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege-separation directory
  const knownHostsFile = join(dir, "known_hosts");
  const server = await startOnFreePort("/usr/sbin/sshd", (port) => ["-D", "-e", "-f", config, "-p", String(port)], {
    beforeStart: (port) => writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey}\n`),
  });
  const credentials = { username: "root", privateKeyFile: clientKey, knownHostsFile, hostPublicKey };
  return {
    url: `sftp://root@127.0.0.1:${server.port}${root}`,
    port: server.port,
    root,
    credentials,
    env: {
      FILETRANSFER_SFTP_USERNAME: "root",
      FILETRANSFER_SFTP_PRIVATE_KEY_FILE: clientKey,
      FILETRANSFER_SFTP_KNOWN_HOSTS_FILE: knownHostsFile,
    },
    knownHostsLine: (port) => `[127.0.0.1]:${port} ${hostPublicKey}`,
    dropSessions: () => killSessions(server.child.pid as number),
    stop: async () => {
      killSessions(server.child.pid as number);
      await stopProcess(server.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
