/**
 * Threat: a tenant (or a leaked key of one) reads or changes another tenant's identities,
 * sessions or incidents by guessing or learning their ids. Another company's object must be
 * 404 exactly as if it did not exist, and nothing about it may change.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { identityGuard } from "../../src/identity/guard";
import { call, enrolled, introspect, openSession, tenant } from "../helpers";

describe("tenant isolation", () => {
  it("cannot act on another company's identity: 404 and no side effect", async () => {
    const victim = await enrolled("victim");
    const session = await openSession(victim.key, "victim", victim.secret);
    const attacker = await tenant("Attacker");
    for (const action of ["disable", "enable", "revoke-sessions", "force-mfa"]) {
      const res = await call(`/v1/sentinel/identity/${victim.identityId}/${action}`, {
        key: attacker.key,
        body: { reason: "x" },
      });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
    expect((await call(`/v1/sentinel/identity/${victim.identityId}/actions`, { key: attacker.key })).status).toBe(404);
    expect(await introspect(victim.key, session.token)).toMatchObject({ active: true, mfa_required: false });
    const profile = await call("/v1/idp/users?externalUserId=victim", { key: victim.key });
    expect(profile.body).toMatchObject({ status: "active", mfa_challenge_required_from: null });
    expect(
      (await call(`/v1/sentinel/identity/${victim.identityId}/actions`, { key: victim.key })).body.actions,
    ).toEqual([]);
  });

  it("cannot read or close another company's incident", async () => {
    const owner = await tenant("Owner");
    const incident = (await call("/v1/sentinel/incidents", { key: owner.key, body: { title: "secret" } })).body
      .incident;
    const other = await tenant("Other");
    expect((await call(`/v1/sentinel/incidents/${incident.id}`, { key: other.key })).status).toBe(404);
    expect((await call(`/v1/sentinel/incidents/${incident.id}/close`, { key: other.key, method: "POST" })).status).toBe(
      404,
    );
    expect((await call(`/v1/sentinel/incidents/${incident.id}`, { key: owner.key })).body.incident.status).toBe("open");
  });

  it("treats another company's incident id as an external reference, not as theirs", async () => {
    const owner = await tenant("Owner");
    const incident = (await call("/v1/sentinel/incidents", { key: owner.key, body: { title: "t" } })).body.incident;
    await call(`/v1/sentinel/incidents/${incident.id}/close`, { key: owner.key, method: "POST" });
    const other = await enrolled("u");
    // Closed for its owner, unknown to this company: no 409 that would reveal it exists.
    const res = await call(`/v1/sentinel/identity/${other.identityId}/force-mfa`, {
      key: other.key,
      body: { incident_id: incident.id },
    });
    expect(res.status).toBe(200);
    expect((await call(`/v1/sentinel/incidents/${incident.id}`, { key: owner.key })).body.incident.actions).toEqual([]);
  });

  it("cannot revoke or introspect another company's session", async () => {
    const victim = await enrolled("victim");
    const session = await openSession(victim.key, "victim", victim.secret);
    const attacker = await tenant("Attacker");
    expect(await introspect(attacker.key, session.token)).toEqual({ active: false, reason: "invalid" });
    // The session's D1 mirror exists (it goes by the D1 writes queue just after the verify,
    // readable within the README's 5-second bound), so the 404 below is the tenant check, not
    // "not written yet".
    await expect
      .poll(async () => (await env.DB.prepare("SELECT id FROM sessions WHERE id = ?").bind(session.id).first())?.id, {
        timeout: 10_000,
      })
      .toBe(session.id);
    const res = await call(`/v1/idp/sessions/${session.id}`, { key: attacker.key, method: "DELETE" });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: "not_found" });
    expect((await introspect(victim.key, session.token)).active).toBe(true);
  });
});

describe("probing unknown identities", () => {
  it("writes nothing for an identity that does not exist", async () => {
    const { key, companyId } = await tenant();
    expect((await call("/v1/idp/users?externalUserId=made-up", { key })).status).toBe(404);
    expect((await call("/v1/idp/otp/verify", { key, body: { otp: { id: "made-up", code: "123456" } } })).status).toBe(
      404,
    );
    const stub = identityGuard(env, companyId, "made-up");
    const tables = await runInDurableObject(stub, (_instance, state: DurableObjectState) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(tables.filter((t) => !String(t.name).startsWith("_cf") && !String(t.name).startsWith("sqlite"))).toEqual([]);
  });
});
