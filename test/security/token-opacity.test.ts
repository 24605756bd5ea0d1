/**
 * A session token says nothing to whoever holds it: its claims (session, company, identity,
 * external id, times) are sealed, not merely signed. Checked on tokens the real verify route
 * issues, in the token's text and in every byte its parts decode to.
 */
import { describe, expect, it } from "vitest";
import { decodeBase64Url } from "../../src/domain/base64";
import { enrolled, introspect, openSession } from "../helpers";

/** Everything a token's holder could read: the text itself and the bytes of each base64url run in it. */
function readableForms(token: string): string[] {
  const forms = [token];
  for (const run of token.match(/[A-Za-z0-9_-]{2,}/g) ?? []) {
    // Each run at each alignment, so a claim base64-encoded at any offset would show.
    for (let start = 0; start < 4 && start < run.length; start++) {
      const bytes = decodeBase64Url(run.slice(start, start + Math.floor((run.length - start) / 4) * 4));
      if (bytes) forms.push(new TextDecoder("latin1").decode(bytes));
    }
  }
  return forms;
}

describe("opaque session tokens", () => {
  it("carry none of their claims in clear", async () => {
    const externalId = "ORG_USR_9921_AFG";
    const { key, secret, companyId, identityId } = await enrolled(externalId);
    const session = await openSession(key, externalId, secret);
    expect((await introspect(key, session.token)).active).toBe(true);

    const expiresAtSeconds = String(Math.floor(Date.parse(session.expires_at) / 1000));
    const claims = [
      session.id,
      companyId,
      identityId,
      identityId.slice(4, 20),
      companyId.slice(4, 16),
      externalId,
      expiresAtSeconds.slice(0, 8),
    ];
    for (const form of readableForms(session.token)) {
      for (const claim of claims) expect(form).not.toContain(claim);
    }
  });

  it("are not alike for two sessions of one identity", async () => {
    const { key, secret } = await enrolled("u");
    const first = await openSession(key, "u", secret, 0);
    const second = await openSession(key, "u", secret, 1);
    // What follows the key id (at most 32 characters before the one dot) is the sealed part.
    const sealed = (token: string) => {
      const parts = token.slice("hst_".length).split(".");
      return parts.length === 2 && (parts[0]?.length ?? 99) <= 32 ? (parts[1] as string) : token.slice(4);
    };
    const a = sealed(first.token);
    const b = sealed(second.token);
    // A random 96-bit nonce leads the sealed part and GCM is a stream cipher under it: the two
    // share no run of 10 characters (a signed-only token shares most of its claims' text).
    for (let i = 0; i + 10 <= b.length; i++) expect(a).not.toContain(b.slice(i, i + 10));
  });
});
