import { it } from "node:test";
import { rejectsWithKind, withProvider, type RemoteFixture } from "./remote-provider-contract.js";

/**
 * What a store with real directories (SFTP, FTPS) does beyond the remote provider contract: it
 * tells a missing directory apart, where an object store lists a missing prefix as nothing.
 */
export function itListsAMissingDirectoryAsNotFound(fixture: () => RemoteFixture): void {
  it("lists a missing directory as not-found", async () => {
    const f = fixture();
    await withProvider(f.scheme, f.env, async (provider) => {
      const listing = (async () => {
        for await (const _ of provider.list(f.newDirectoryUrl(), {})) void _;
      })();
      await rejectsWithKind(listing, "not-found");
    });
  });
}
