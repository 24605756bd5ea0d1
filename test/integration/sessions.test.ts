import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseKeyring } from "../../src/domain/secret-box";
import { readSessionToken, signSessionToken } from "../../src/domain/session-token";
import { call, enrolled, introspect, openSession, tenant } from "../helpers";

const signingKeys = () => parseKeyring(env.SESSION_SIGNING_KEY, "SESSION_SIGNING_KEY");

describe("sessions", () => {
  it("introspects a fresh session as active, strongly by default and eventually", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const session = await openSession(key, "u", secret);
    const expected = {
      active: true,
      session: {
        id: session.id,
        identity_id: identityId,
        external_id: "u",
        created_at: expect.stringMatching(/\.\d{3}Z$/),
        expires_at: session.expires_at,
        mfa_verified_at: expect.stringMatching(/\.\d{3}Z$/),
      },
      mfa_required: false,
    };
    expect(await introspect(key, session.token)).toEqual(expected);
    expect(await introspect(key, session.token, "strong")).toEqual(expected);
    expect(await introspect(key, session.token, "eventual")).toEqual(expected);
  });

  it("lists active sessions and revokes one", async () => {
    const { key, secret } = await enrolled("u");
    const a = await openSession(key, "u", secret, -1);
    const b = await openSession(key, "u", secret, 0);
    const listed = await call("/v1/idp/sessions?externalUserId=u", { key });
    expect(listed.status).toBe(200);
    expect(listed.body.sessions.map((s: { id: string }) => s.id)).toEqual([a.id, b.id]);
    expect(listed.body.sessions[0]).toMatchObject({ external_id: "u", mfa_required: false });

    // The D1 mirror is written by the object's alarm; wait until the session is there.
    let revoked = await call(`/v1/idp/sessions/${a.id}`, { key, method: "DELETE" });
    for (let i = 0; i < 50 && revoked.status === 404; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      revoked = await call(`/v1/idp/sessions/${a.id}`, { key, method: "DELETE" });
    }
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ session: { id: a.id, revoked_at: expect.stringMatching(/\.\d{3}Z$/) } });
    expect(await introspect(key, a.token)).toEqual({ active: false, reason: "revoked" });
    expect((await introspect(key, b.token)).active).toBe(true);
    expect(
      (await call("/v1/idp/sessions?externalUserId=u", { key })).body.sessions.map((s: { id: string }) => s.id),
    ).toEqual([b.id]);

    const again = await call(`/v1/idp/sessions/${a.id}`, { key, method: "DELETE" });
    expect(again.body.session.revoked_at).toBe(revoked.body.session.revoked_at);
  });

  it("makes all 3 open sessions inactive on the next strong introspection after revoke-sessions", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const sessions = [
      await openSession(key, "u", secret, -1),
      await openSession(key, "u", secret, 0),
      await openSession(key, "u", secret, 1),
    ];
    for (const s of sessions) expect((await introspect(key, s.token)).active).toBe(true);
    const res = await call(`/v1/sentinel/identity/${identityId}/revoke-sessions`, { key, body: { reason: "test" } });
    expect(res.status).toBe(200);
    expect(res.body.data.revoked_sessions).toBe(3);
    for (const s of sessions) expect(await introspect(key, s.token)).toEqual({ active: false, reason: "revoked" });
    expect((await call("/v1/idp/sessions?externalUserId=u", { key })).body.sessions).toEqual([]);
  });

  it("turns a session inactive on eventual introspection once the tombstone is visible", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const session = await openSession(key, "u", secret);
    expect((await introspect(key, session.token, "eventual")).active).toBe(true);
    await call(`/v1/sentinel/identity/${identityId}/revoke-sessions`, { key, method: "POST" });
    let answer = await introspect(key, session.token, "eventual");
    for (let i = 0; i < 100 && answer.active; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      answer = await introspect(key, session.token, "eventual");
    }
    expect(answer).toEqual({ active: false, reason: "revoked" });
  });

  it("issues a session after revoke-sessions that is active", async () => {
    const { key, secret, identityId } = await enrolled("u");
    await openSession(key, "u", secret, 0);
    await call(`/v1/sentinel/identity/${identityId}/revoke-sessions`, { key, method: "POST" });
    const next = await openSession(key, "u", secret, 1);
    expect((await introspect(key, next.token)).active).toBe(true);
    expect((await introspect(key, next.token, "eventual")).active).toBe(true);
  });

  it("answers expired for a genuine token past its expiry", async () => {
    const { key, secret } = await enrolled("u");
    const session = await openSession(key, "u", secret);
    const claims = await readSessionToken(session.token, signingKeys());
    if (!claims) throw new Error("token did not read");
    const expired = await signSessionToken({ ...claims, expiresAtMs: Date.now() - 1 }, signingKeys());
    expect(await introspect(key, expired)).toEqual({ active: false, reason: "expired" });
    expect(await introspect(key, expired, "eventual")).toEqual({ active: false, reason: "expired" });
  });

  it.each([
    ["garbage", () => "not a token"],
    ["truncated", (t: string) => t.slice(0, t.length - 5)],
    ["tampered", (t: string) => `${t.slice(0, 12)}${t[12] === "A" ? "B" : "A"}${t.slice(13)}`],
    ["empty", () => ""],
    [
      "re-signed with another key",
      async (t: string) => {
        const claims = await readSessionToken(t, signingKeys());
        const other = parseKeyring("s1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", "SESSION_SIGNING_KEY");
        return claims ? signSessionToken(claims, other) : "";
      },
    ],
  ])("answers invalid, never an error, for a %s token", async (_name, mangle) => {
    const { key, secret } = await enrolled("u");
    const session = await openSession(key, "u", secret);
    for (const consistency of ["strong", "eventual"] as const) {
      expect(await introspect(key, await mangle(session.token), consistency)).toEqual({
        active: false,
        reason: "invalid",
      });
    }
  });

  it("answers invalid for another company's token", async () => {
    const { key, secret } = await enrolled("u");
    const session = await openSession(key, "u", secret);
    const other = await tenant("Other");
    expect(await introspect(other.key, session.token)).toEqual({ active: false, reason: "invalid" });
    expect(await introspect(other.key, session.token, "eventual")).toEqual({ active: false, reason: "invalid" });
  });

  it("answers 404 listing the sessions of an unknown identity", async () => {
    const { key } = await tenant();
    expect((await call("/v1/idp/sessions?externalUserId=ghost", { key })).status).toBe(404);
    expect((await call("/v1/idp/sessions/ses_01J00000000000000000000000", { key, method: "DELETE" })).status).toBe(404);
  });
});
