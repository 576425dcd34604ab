import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { Isolation } from "../../src/config/auth.js";
import { ALL } from "../../src/store/task-store.js";
import { OidcTestIssuer } from "../support/oidc-issuer.js";
import type { Outcome, ProtocolCaller } from "./protocol-callers.js";
import { startServerRequiringTokens, type ServerRequiringTokens } from "./server-requiring-tokens.js";

const ADMIN_ROLE = "TES.Admin";

function value<T>(outcome: Outcome<T>, label: string): T {
  if (!outcome.ok) assert.fail(`${label}: refused with code ${outcome.code}: ${outcome.message}`);
  return outcome.value;
}

function refusedWith(outcome: Outcome<unknown>, code: Code, label: string): void {
  assert.equal(outcome.ok, false, `${label}: expected a refusal`);
  if (!outcome.ok) assert.equal(outcome.code, code, `${label}: ${outcome.message}`);
}

/** Every id the caller can list, following next_page_token. */
async function listAll(caller: ProtocolCaller, token: string): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = value(await caller.listTasks({ pageSize: 50, ...(pageToken && { pageToken }) }, token), `${caller.name}: list`);
    ids.push(...page.ids);
    pageToken = page.nextPageToken === "" ? undefined : page.nextPageToken;
  } while (pageToken !== undefined);
  return ids;
}

for (const isolation of ["per-tenant", "per-user"] as const satisfies readonly Isolation[]) {
  describe(`isolation ${isolation}: one owner never reaches another's tasks, on every protocol`, () => {
    let issuer: OidcTestIssuer;
    let s: ServerRequiringTokens;
    before(async () => {
      issuer = await OidcTestIssuer.start();
      s = await startServerRequiringTokens({
        OIDC_ISSUER: issuer.issuerTemplate,
        OIDC_ALLOWED_TENANTS: "*",
        TES_ISOLATION: isolation,
        TES_ADMIN_ROLE: ADMIN_ROLE,
      });
    });
    after(async () => {
      await s.close();
      await issuer.close();
    });

    it("keeps B out of A's tasks: get and cancel are not_found, lists and counts omit them, A's page token is refused", async () => {
      for (const caller of s.callers) {
        const tenantA = randomUUID();
        const tenantB = randomUUID();
        const userA = await issuer.tenantToken(tenantA, { claims: { oid: randomUUID() } });
        const userB = await issuer.tenantToken(tenantB, { claims: { oid: randomUUID() } });
        const aIds: string[] = [];
        for (let i = 0; i < 3; i++) aIds.push(value(await caller.createTask(userA), `${caller.name}: A creates`));
        const bId = value(await caller.createTask(userB), `${caller.name}: B creates`);

        for (const id of aIds) {
          refusedWith(await caller.getTask(id, userB), Code.NotFound, `${caller.name}: B gets A's task`);
          refusedWith(await caller.cancelTask(id, userB), Code.NotFound, `${caller.name}: B cancels A's task`);
          assert.equal((await s.store.get(id, ALL))?.task.state, 1, `${caller.name}: A's task is still QUEUED`);
        }
        assert.deepEqual(await listAll(caller, userB), [bId], `${caller.name}: B lists only its own task`);
        assert.deepEqual((await listAll(caller, userA)).sort(), [...aIds].sort(), `${caller.name}: A lists only its own tasks`);

        // A's page token, replayed by B, neither continues A's list nor reveals anything.
        const firstPage = value(await caller.listTasks({ pageSize: 1 }, userA), `${caller.name}: A's first page`);
        assert.notEqual(firstPage.nextPageToken, "");
        refusedWith(await caller.listTasks({ pageSize: 1, pageToken: firstPage.nextPageToken }, userB), Code.InvalidArgument, `${caller.name}: B pages into A's list`);
        const next = value(await caller.listTasks({ pageSize: 1, pageToken: firstPage.nextPageToken }, userA), `${caller.name}: A pages on`);
        assert.equal(next.ids.length, 1);
        assert.ok(aIds.includes(next.ids[0] ?? ""));

        // Same object id in another tenant is another owner (per-user owners are qualified by tenant).
        const sameOidOtherTenant = await issuer.tenantToken(randomUUID(), { claims: { oid: "00000000-0000-0000-0000-0000000000aa" } });
        const sameOidTenantA = await issuer.tenantToken(tenantA, { claims: { oid: "00000000-0000-0000-0000-0000000000aa" } });
        refusedWith(await caller.getTask(aIds[0]!, sameOidOtherTenant), Code.NotFound, `${caller.name}: same oid, other tenant`);

        const colleague = await caller.getTask(aIds[0]!, sameOidTenantA);
        if (isolation === "per-tenant") {
          assert.deepEqual(colleague, { ok: true, value: aIds[0] }, `${caller.name}: a colleague in tenant A shares its tasks`);
        } else {
          refusedWith(colleague, Code.NotFound, `${caller.name}: another user of tenant A does not see A's user's task`);
          assert.deepEqual(await listAll(caller, sameOidTenantA), [], `${caller.name}: nor lists it`);
        }

        const owner = (await s.store.get(bId, ALL))?.owner;
        const expected = isolation === "per-tenant" ? tenantB : `${tenantB}/`;
        assert.ok(owner?.startsWith(expected), `${caller.name}: B's task is recorded under ${expected}, got ${owner}`);
      }
    });

    it("lets the admin role see and cancel every owner's tasks, while its own tasks stay its own", async () => {
      for (const caller of s.callers) {
        const userA = await issuer.tenantToken(randomUUID());
        const userB = await issuer.tenantToken(randomUUID());
        const admin = await issuer.tenantToken(randomUUID(), { claims: { roles: ["TES.Reader", ADMIN_ROLE] } });
        const notAdmin = await issuer.tenantToken(randomUUID(), { claims: { roles: ["TES.Reader"] } });
        const aId = value(await caller.createTask(userA), `${caller.name}: A creates`);
        const bId = value(await caller.createTask(userB), `${caller.name}: B creates`);

        const seen = await listAll(caller, admin);
        assert.ok(seen.includes(aId) && seen.includes(bId), `${caller.name}: the admin lists both`);
        assert.equal(seen.length, (await s.store.list({ pageSize: 2047, view: 0 }, ALL)).tasks.length, `${caller.name}: the admin lists every task`);
        assert.deepEqual(await caller.getTask(aId, admin), { ok: true, value: aId }, `${caller.name}: the admin gets A's task`);
        value(await caller.cancelTask(bId, admin), `${caller.name}: the admin cancels B's task`);
        refusedWith(await caller.getTask(aId, notAdmin), Code.NotFound, `${caller.name}: another role is no admin`);

        const adminsOwn = value(await caller.createTask(admin), `${caller.name}: the admin creates`);
        refusedWith(await caller.getTask(adminsOwn, userA), Code.NotFound, `${caller.name}: the admin's task is not A's`);
      }
    });
  });
}
