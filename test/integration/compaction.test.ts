import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { auditEvents, call, enrolled, openSession, verifyCode } from "../helpers";

const DAY_MS = 86_400_000;

async function runCron(scheduledTime: number): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "17 3 * * *" }), env);
}

/** An identity with 2 successful verifies (routine) and 1 failure (security), all shipped to D1. */
async function history(): Promise<{ key: string; identityId: string }> {
  const { key, secret, identityId } = await enrolled("u");
  await openSession(key, "u", secret, 0);
  await openSession(key, "u", secret, 1);
  await verifyCode(key, "u", "ZZZZ-0000");
  // provisioned, enrolled, 2 successes, 1 failure
  await auditEvents(key, `&identity_id=${identityId}`, 5);
  return { key, identityId };
}

describe("audit compaction (the scheduled cron)", () => {
  it("leaves events younger than AUDIT_RETENTION_DAYS alone", async () => {
    const { key, identityId } = await history();
    await runCron(Date.now() + 89 * DAY_MS);
    expect(await auditEvents(key, `&identity_id=${identityId}`)).toHaveLength(5);
    expect((await call("/v1/audit/rollups", { key })).body.rollups).toEqual([]);
  });

  it("rolls routine events up into daily counts, keeps security events, and the chains still verify", async () => {
    const { key, identityId } = await history();
    await runCron(Date.now() + 91 * DAY_MS);

    const left = await auditEvents(key, `&identity_id=${identityId}`);
    expect(left.map((e) => `${e.type}:${e.outcome}`).sort()).toEqual([
      "identity.provisioned:success",
      "mfa.verify:failure",
      "otp.enrolled:success",
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const rollups = await call("/v1/audit/rollups", { key });
    expect(rollups.body.rollups).toEqual([
      { day: today, identity_id: identityId, type: "mfa.verify", outcome: "success", count: 2 },
    ]);
    expect((await call("/v1/audit/verify", { key })).body).toMatchObject({ ok: true, broken: null });

    // The compacted rows keep only what the chain needs: no ip, actor or metadata.
    const stubs = await env.DB.prepare(
      "SELECT actor, ip, request_id, metadata FROM audit_events WHERE identity_id = ? AND compacted_at IS NOT NULL",
    )
      .bind(identityId)
      .all();
    expect(stubs.results).toEqual([
      { actor: null, ip: null, request_id: null, metadata: "{}" },
      { actor: null, ip: null, request_id: null, metadata: "{}" },
    ]);
  });

  it("does not count an event twice when it runs again", async () => {
    const { key } = await history();
    await runCron(Date.now() + 91 * DAY_MS);
    await runCron(Date.now() + 92 * DAY_MS);
    expect((await call("/v1/audit/rollups", { key })).body.rollups[0].count).toBe(2);
  });

  it("lets verify catch a security event disguised as compacted", async () => {
    const { key, identityId } = await history();
    const failure = (await auditEvents(key, `&identity_id=${identityId}&type=mfa.verify`)).find(
      (e) => e.outcome === "failure",
    );
    await env.DB.prepare("UPDATE audit_events SET compacted_at = ?, metadata = '{}', actor = NULL WHERE id = ?")
      .bind(new Date().toISOString(), failure.id)
      .run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body).toMatchObject({ ok: false, broken: { event_id: failure.id, reason: "invalid_compaction" } });
  });

  it("deletes the D1 mirrors of expired sessions", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const session = await openSession(key, "u", secret);
    await auditEvents(key, `&identity_id=${identityId}&type=mfa.verify`, 1);
    const count = () => env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE id = ?").bind(session.id).first("n");
    expect(await count()).toBe(1);
    await runCron(Date.now() + DAY_MS);
    expect(await count()).toBe(0);
  });

  it("deletes assessments older than ASSESSMENT_RETENTION_DAYS and keeps newer ones", async () => {
    const now = Date.parse("2026-06-01T00:00:00.000Z");
    const insert = (id: string, createdAt: string) =>
      env.DB.prepare(
        "INSERT INTO assessments (id, company_id, identity_id, context, risk_score, recommendation, signals, policy_version, mode, created_at) VALUES (?, 'cmp_retention', 'idn_x', '{}', 0, 'allow', '[]', 1, 'enforce', ?)",
      )
        .bind(id, createdAt)
        .run();
    await insert("asm_old", new Date(now - 91 * 86_400_000).toISOString());
    await insert("asm_new", new Date(now - 89 * 86_400_000).toISOString());
    await runCron(now);
    const left = await env.DB.prepare("SELECT id FROM assessments WHERE company_id = 'cmp_retention'").all<{
      id: string;
    }>();
    expect(left.results.map((r) => r.id)).toEqual(["asm_new"]);
  });
});
