import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killSessions, requireRoot, startOnFreePort, stopProcess } from "./server-process.js";

/**
 * vsftpd (Debian) on a loopback port with explicit TLS required for logins and data (RFC 4217),
 * a self-signed certificate for 127.0.0.1 made with openssl, passive ports in a private range, and
 * one local user chrooted to a temp directory. vsftpd authenticates local users through PAM, so
 * the fixture keeps a dedicated system user (no login shell) and a PAM service that only checks its
 * password: both are created on first use and reused, and the password is new on every start.
 */
export interface FtpsServer {
  /** ftps://127.0.0.1:PORT — paths are relative to the user's chroot, which is `root`. */
  url: string;
  port: number;
  root: string;
  credentials: { username: string; password: string; caFile: string };
  env: Record<string, string>;
  /** Ends every open FTP session (control and data connections), as a dropped network would. */
  dropSessions(): number;
  stop(): Promise<void>;
}

export const FTP_TEST_USER = "tes-ftps-test";
const PAM_SERVICE = "tes-filetransfer-ftps-test";
const USER_HOME = "/var/lib/tes-filetransfer-ftps-test";

export async function startFtpsServer(): Promise<FtpsServer> {
  requireRoot("the FTPS tests' vsftpd");
  ensureTestUser();
  const password = randomBytes(12).toString("base64url");
  execFileSync("chpasswd", [], { input: `${FTP_TEST_USER}:${password}\n` });
  const dir = mkdtempSync(join(tmpdir(), "ft-vsftpd-"));
  chmodSync(dir, 0o755); // the FTP user must reach its chroot inside it
  const root = join(dir, "files");
  const empty = join(dir, "empty");
  mkdirSync(root);
  mkdirSync(empty);
  const uid = Number(execFileSync("id", ["-u", FTP_TEST_USER]).toString().trim());
  chownSync(root, uid, -1);
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  const config = join(dir, "vsftpd.conf");
  const server = await startOnFreePort("/usr/sbin/vsftpd", () => [config], {
    beforeStart: (port) => {
      writeFileSync(config, vsftpdConfig({ port, root, empty, cert, key, pasv: pasvRange(port) }));
    },
  });
  return {
    url: `ftps://127.0.0.1:${server.port}`,
    port: server.port,
    root,
    credentials: { username: FTP_TEST_USER, password, caFile: cert },
    env: {
      FILETRANSFER_FTPS_USERNAME: FTP_TEST_USER,
      FILETRANSFER_FTPS_PASSWORD: password,
      FILETRANSFER_FTPS_CA_FILE: cert,
    },
    dropSessions: () => killSessions(server.child.pid as number),
    stop: async () => {
      killSessions(server.child.pid as number);
      await stopProcess(server.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Passive ports next to the control port, so parallel test files rarely collide. */
function pasvRange(port: number): { min: number; max: number } {
  const min = port < 65000 ? port + 1 : port - 200;
  return { min, max: min + 50 };
}

function vsftpdConfig(o: { port: number; root: string; empty: string; cert: string; key: string; pasv: { min: number; max: number } }): string {
  return [
    "listen=YES",
    "listen_address=127.0.0.1",
    `listen_port=${o.port}`,
    "background=NO",
    "anonymous_enable=NO",
    "local_enable=YES",
    "write_enable=YES",
    "local_umask=022",
    "chroot_local_user=YES",
    "allow_writeable_chroot=YES",
    `local_root=${o.root}`,
    "ssl_enable=YES",
    "allow_anon_ssl=NO",
    "force_local_logins_ssl=YES",
    "force_local_data_ssl=YES",
    `rsa_cert_file=${o.cert}`,
    `rsa_private_key_file=${o.key}`,
    "pasv_enable=YES",
    `pasv_min_port=${o.pasv.min}`,
    `pasv_max_port=${o.pasv.max}`,
    "pasv_address=127.0.0.1",
    // The seccomp sandbox trips over syscalls of newer libcs and container kernels.
    "seccomp_sandbox=NO",
    "strict_ssl_read_eof=NO",
    `pam_service_name=${PAM_SERVICE}`,
    `secure_chroot_dir=${o.empty}`,
    "userlist_enable=NO",
    "check_shell=NO",
    "xferlog_enable=NO",
    "max_per_ip=100",
    "",
  ].join("\n");
}

function ensureTestUser(): void {
  try {
    execFileSync("id", ["-u", FTP_TEST_USER], { stdio: "ignore" });
  } catch {
    mkdirSync(USER_HOME, { recursive: true });
    execFileSync("useradd", ["--system", "--no-create-home", "--home-dir", USER_HOME, "--shell", "/usr/sbin/nologin", FTP_TEST_USER]);
  }
  // vsftpd changes into the user's home before its chroot, so it must exist.
  mkdirSync(USER_HOME, { recursive: true });
  // Only the password: Debian's "vsftpd" service also wants a login shell listed in /etc/shells.
  writeFileSync(`/etc/pam.d/${PAM_SERVICE}`, "auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_permit.so\n");
}
