import { createAuthentication, type Authentication, type AuthenticationOptions } from "../../src/auth/authentication.js";
import { loadAuthConfig } from "../../src/config/auth.js";
import type { Env } from "../../src/config/env-reader.js";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";
import { protocolCallers, type ProtocolCaller } from "./protocol-callers.js";

/**
 * OIDC sign-in with `settings` (OIDC_ISSUER and the rest) for the audience api://tes, the one the
 * test issuer's tokens carry. Its keys are not read yet: see `load()`.
 */
export function oidcSignIn(settings: Env, options?: AuthenticationOptions): Authentication {
  return createAuthentication(loadAuthConfig({ TES_AUTH_MODE: "oidc", OIDC_AUDIENCE: "api://tes", ...settings }), options);
}

export interface ServerRequiringTokens extends TestServer {
  /** A client of the server on every protocol. */
  readonly callers: ProtocolCaller[];
  /** Closes the callers, then the server. */
  close(): Promise<void>;
}

/** The test server behind oidcSignIn(settings), started once the issuer's keys are read. */
export async function startServerRequiringTokens(settings: Env, options?: AuthenticationOptions): Promise<ServerRequiringTokens> {
  const auth = oidcSignIn(settings, options);
  await auth.load();
  const server = await startTestServer({ interceptors: [...auth.interceptors] });
  const callers = protocolCallers(server.baseUrl, server.port);
  return {
    ...server,
    callers,
    async close() {
      for (const caller of callers) caller.close();
      await server.close();
    },
  };
}
