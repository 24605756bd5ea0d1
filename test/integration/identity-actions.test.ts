import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { auditEvents, call, enrolled, introspect, openSession, totpCode, verifyCode } from "../helpers";

const ACTION = {
  id: expect.stringMatching(/^act_[0-9A-Z]{26}$/),
  identity_id: expect.stringMatching(/^idn_/),
  performed_by: expect.stringMatching(/^key_/),
  created_at: expect.stringMatching(/\.\d{3}Z$/),
  // The company has no connectors here (test/connectors has them).
  deliveries: [],
};

describe("POST /v1/sentinel/identity/:userId/disable", () => {
  it("disables: sessions revoked, codes refused, enrolment refused, profile disabled", async () => {
    const { key, keyId, secret, identityId } = await enrolled("u");
    const session = await openSession(key, "u", secret, 0);
    const res = await call(`/v1/sentinel/identity/${identityId}/disable`, {
      key,
      body: { reason: "Account compromise confirmed.", incident_id: "inc_01hxyz" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        action: {
          ...ACTION,
          type: "disable",
          identity_id: identityId,
          reason: "Account compromise confirmed.",
          incident_id: "inc_01hxyz",
          performed_by: keyId,
        },
        identity: { id: identityId, status: "disabled" },
        deliveries: [],
      },
    });
    expect(await introspect(key, session.token)).toEqual({ active: false, reason: "disabled" });
    const code = await verifyCode(key, "u", totpCode(secret, Date.now() + 30_000));
    expect(code.status).toBe(403);
    expect(code.body).toEqual({ error: "Identity is disabled", code: "identity_disabled" });
    const enrol = await call("/v1/idp/otp?externalUserId=u", {
      key,
      body: { otp: { issuer_name: "A", account_name: "b" } },
    });
    expect(enrol.status).toBe(403);
    expect((await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" })).status).toBe(403);
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.status).toBe("disabled");
  });

  it("requires a reason", async () => {
    const { key, identityId } = await enrolled("u");
    const res = await call(`/v1/sentinel/identity/${identityId}/disable`, { key, body: {} });
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe("reason");
  });

  it("is harmless to repeat, and each repeat is audited", async () => {
    const { key, identityId } = await enrolled("u");
    const first = await call(`/v1/sentinel/identity/${identityId}/disable`, { key, body: { reason: "one" } });
    const second = await call(`/v1/sentinel/identity/${identityId}/disable`, { key, body: { reason: "two" } });
    expect(second.status).toBe(200);
    expect(second.body.data.identity.status).toBe("disabled");
    expect(second.body.data.action.id).not.toBe(first.body.data.action.id);
    const events = await auditEvents(key, `&identity_id=${identityId}&type=identity.disabled`, 2);
    expect(events.map((e) => e.reason)).toEqual(["two", "one"]);
  });

  it("answers 404 for an unknown identity", async () => {
    const { key } = await enrolled("u");
    expect((await call("/v1/sentinel/identity/idn_nope/disable", { key, body: { reason: "x" } })).status).toBe(404);
  });
});

describe("POST /v1/sentinel/identity/:userId/enable", () => {
  it("enables without reviving revoked sessions", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const session = await openSession(key, "u", secret, 0);
    await call(`/v1/sentinel/identity/${identityId}/disable`, { key, body: { reason: "investigating" } });
    const res = await call(`/v1/sentinel/identity/${identityId}/enable`, { key, body: { reason: "cleared" } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      action: { ...ACTION, type: "enable", reason: "cleared", incident_id: null },
      identity: { id: identityId, status: "active" },
      deliveries: [],
    });
    expect(await introspect(key, session.token)).toEqual({ active: false, reason: "revoked" });
    expect(await introspect(key, session.token, "eventual")).toEqual({ active: false, reason: "revoked" });
    const fresh = await openSession(key, "u", secret, 1);
    expect((await introspect(key, fresh.token)).active).toBe(true);
  });
});

describe("POST /v1/sentinel/identity/:userId/force-mfa", () => {
  it("marks sessions verified before it as mfa_required; the next verify's session is not", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const before = await openSession(key, "u", secret, 0);
    const res = await call(`/v1/sentinel/identity/${identityId}/force-mfa`, { key, method: "POST" });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      action: { ...ACTION, type: "force_mfa", reason: null, incident_id: null },
      mfa_challenge_required_from: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      deliveries: [],
    });
    expect(await introspect(key, before.token)).toMatchObject({ active: true, mfa_required: true });
    expect(await introspect(key, before.token, "eventual")).toMatchObject({ active: true, mfa_required: true });
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.mfa_challenge_required_from).toBe(
      res.body.data.mfa_challenge_required_from,
    );

    // Within the same second (and possibly the same millisecond) as the force-mfa.
    const after = await openSession(key, "u", secret, 1);
    expect(await introspect(key, after.token)).toMatchObject({ active: true, mfa_required: false });
    expect(await introspect(key, after.token, "eventual")).toMatchObject({ active: true, mfa_required: false });
    expect(await introspect(key, before.token)).toMatchObject({ active: true, mfa_required: true });
  });
});

describe("GET /v1/sentinel/identity/:userId/actions", () => {
  it("lists the actions newest first", async () => {
    const { key, identityId } = await enrolled("u");
    await call(`/v1/sentinel/identity/${identityId}/force-mfa`, { key, method: "POST" });
    await call(`/v1/sentinel/identity/${identityId}/revoke-sessions`, { key, body: { reason: "r" } });
    await call(`/v1/sentinel/identity/${identityId}/disable`, { key, body: { reason: "d" } });
    const res = await call(`/v1/sentinel/identity/${identityId}/actions`, { key });
    expect(res.status).toBe(200);
    expect(res.body.actions.map((a: { type: string }) => a.type)).toEqual(["disable", "revoke_sessions", "force_mfa"]);
  });
});

describe("the contract's combining actions example", () => {
  it("disables and revokes at once with string bodies and no JSON content type", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const sessions = [await openSession(key, "u", secret, 0), await openSession(key, "u", secret, 1)];
    const userId = identityId;
    const incidentId = "inc_01hxyz";
    const reason = "Active credential attack confirmed.";
    const headers = { Authorization: `Bearer ${key}` };
    const responses = await Promise.all([
      SELF.fetch(`https://idp.test/v1/sentinel/identity/${userId}/disable`, {
        method: "POST",
        headers,
        body: JSON.stringify({ reason, incident_id: incidentId }),
      }),
      SELF.fetch(`https://idp.test/v1/sentinel/identity/${userId}/revoke-sessions`, {
        method: "POST",
        headers,
        body: JSON.stringify({ reason, incident_id: incidentId }),
      }),
    ]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    const [disabled, revoked] = (await Promise.all(responses.map((r) => r.json()))) as any[];
    expect(disabled.data.identity.status).toBe("disabled");
    expect(revoked.data.action).toMatchObject({ type: "revoke_sessions", incident_id: incidentId, reason });

    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.status).toBe("disabled");
    expect((await call("/v1/idp/sessions?externalUserId=u", { key })).body.sessions).toEqual([]);
    for (const s of sessions) expect((await introspect(key, s.token)).active).toBe(false);
  });
});

describe("audit of actions", () => {
  it("records reason, incident and the acting key on each action's event", async () => {
    const { key, keyId, identityId } = await enrolled("u");
    await call(`/v1/sentinel/identity/${identityId}/disable`, {
      key,
      body: { reason: "why", incident_id: "TICKET-42" },
    });
    const [event] = await auditEvents(key, `&identity_id=${identityId}&type=identity.disabled`, 1);
    expect(event).toMatchObject({ actor: keyId, reason: "why", incident_id: "TICKET-42", outcome: "success" });
    expect((await call("/v1/audit/verify", { key })).body.ok).toBe(true);
  });
});
