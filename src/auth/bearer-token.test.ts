import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bearerTokenOf, MAX_TOKEN_LENGTH } from "./bearer-token.js";

const of = (value?: string) => bearerTokenOf(new Headers(value === undefined ? {} : { authorization: value }));

describe("bearerTokenOf", () => {
  it("reads a JWT after the Bearer scheme, in any case, with spaces around", () => {
    assert.deepEqual(of("Bearer aaa.bbb.ccc"), { kind: "token", token: "aaa.bbb.ccc" });
    assert.deepEqual(of("bearer   aaa.bbb.ccc "), { kind: "token", token: "aaa.bbb.ccc" });
  });

  it("counts no header, an empty one and other schemes as no token", () => {
    for (const value of [undefined, "", "Basic dXNlcjpwYXNz", "Bearerish aaa.bbb.ccc", "DPoP aaa.bbb.ccc"]) assert.deepEqual(of(value), { kind: "none" }, String(value));
  });

  it("counts a bare scheme, a non-JWT, two values and an oversized token as malformed", () => {
    const cases = ["Bearer", "Bearer ", "Bearer opaque-token", "Bearer a.b", "Bearer a.b.c.d", "Bearer a.b.c, Bearer d.e.f", `Bearer a.${"b".repeat(MAX_TOKEN_LENGTH)}.c`, "Bearer a.b=.c"];
    for (const value of cases) assert.deepEqual(of(value), { kind: "malformed" }, value);
  });
});
