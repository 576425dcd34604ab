import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ownedBy } from "../store/task-store.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

const caller = { owner: "t", scope: ownedBy("t") };

describe("VerifiedTokenCache", () => {
  it("forgets a token at its expiry or after the ttl, whichever comes first", () => {
    let now = 1_000_000;
    const cache = new VerifiedTokenCache(60_000, 10, () => now);
    cache.set("expires-soon", caller, now + 5_000);
    cache.set("expires-late", caller, now + 3_600_000);
    now += 5_000;
    assert.equal(cache.get("expires-soon"), undefined, "past the token's exp");
    assert.equal(cache.get("expires-late"), caller);
    now += 55_000;
    assert.equal(cache.get("expires-late"), undefined, "past the ttl");
  });

  it("holds at most maxEntries, evicting the oldest, and keys by the token's hash", () => {
    const cache = new VerifiedTokenCache(60_000, 2);
    cache.set("a", caller, Date.now() + 60_000);
    cache.set("b", caller, Date.now() + 60_000);
    cache.set("c", caller, Date.now() + 60_000);
    assert.equal(cache.get("a"), undefined);
    assert.equal(cache.get("c"), caller);
    assert.equal(VerifiedTokenCache.keyOf("x.y.z").length, 43);
    assert.ok(!VerifiedTokenCache.keyOf("x.y.z").includes("x.y.z"));
  });

  it("is off with a ttl of 0", () => {
    assert.equal(new VerifiedTokenCache(0, 10).enabled, false);
  });
});
