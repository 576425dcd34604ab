import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Redactor, redactText, redactUrl } from "./redact.js";

describe("redactUrl", () => {
  it("drops every query value and the user info, keeping what locates the object", () => {
    const url = "https://acct.blob.core.windows.net/c/dir/x.bam?sv=2024-01-01&sp=r&sig=abc%2Bdef%3D";
    assert.equal(redactUrl(url), "https://acct.blob.core.windows.net/c/dir/x.bam?sv=REDACTED&sp=REDACTED&sig=REDACTED");
    assert.equal(redactUrl("sftp://alice:hunter2@host:2222/data/a"), "sftp://REDACTED:REDACTED@host:2222/data/a");
  });
});

describe("redactText", () => {
  it("scrubs URLs, signatures and authorization tokens inside free text, keeping punctuation", () => {
    const text =
      "GET https://h/x?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA/2024: 403; Authorization: Bearer eyJhbGciOi.abc.def; " +
      "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bm90LWEta2V5Cg==;";
    const out = redactText(text);
    for (const secret of ["deadbeef", "AKIA", "eyJhbGciOi", "bm90LWEta2V5Cg"]) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
    assert.match(out, /X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED: 403/);
  });

  it("removes every registered secret wherever it appears, raw or URL-encoded", () => {
    const redactor = new Redactor();
    redactor.addUrl("https://h/x?token=s3cr3t+value/with=chars");
    const out = redactor.text("the token s3cr3t+value/with=chars and s3cr3t%2Bvalue%2Fwith%3Dchars were refused");
    assert.equal(out, "the token REDACTED and REDACTED were refused");
  });
});
