/**
 * Nothing is lost between the action and the deliveries queue: a delivery whose message never
 * went out (the send failed, or the runtime died after the action) is sent again by the cron;
 * a delivery whose messages failed every retry is marked failed, loudly, by the dead-letter
 * queue's consumer.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { auditEvents, call } from "../helpers";
import { apiCalls, connected, settledAction } from "./support";

const USER = encodeURIComponent("alice@acme.example");

/**
 * A pending delivery in D1 that no message carries (as when the send after the action failed):
 * a force-mfa sends no message, and its action gets a revoke delivery written by hand.
 */
async function unsentDelivery() {
  const co = await connected(["okta"]);
  const okta = co.connectors.okta as { id: string; stand: any };
  const res = await call(`/v1/sentinel/identity/${co.identityId}/force-mfa`, { key: co.key, method: "POST" });
  const deliveryId = `dlv_unsent_${crypto.randomUUID()}`;
  await env.DB.prepare(
    "INSERT INTO action_deliveries (id, company_id, action_id, identity_id, connector_id, connector_type, action_type, sequence, provider_user_id, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'okta', 'revoke_sessions', 1000, ?, 'pending', 0, ?, ?)",
  )
    .bind(
      deliveryId,
      co.companyId,
      res.body.data.action.id,
      co.identityId,
      okta.id,
      co.externalId,
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T00:00:00.000Z",
    )
    .run();
  return { co, okta, res, deliveryId };
}

describe("connector deliveries that lost their message", () => {
  it("are sent again by the cron and delivered", async () => {
    const { co, okta, res } = await unsentDelivery();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await okta.stand.log()).toEqual([]);
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), env);
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(listed.deliveries.map((d: { status: string }) => d.status).sort()).toEqual(["delivered", "not_applicable"]);
    expect(apiCalls(await okta.stand.log())).toEqual([`DELETE /okta/api/v1/users/${USER}/sessions?oauthTokens=true`]);
  });

  it("are marked failed and audited when their messages reach the dead-letter queue", async () => {
    const { co, res, deliveryId } = await unsentDelivery();
    const batch = createMessageBatch("hld-identity-connector-deliveries-dlq", [
      { id: "m1", timestamp: new Date(), attempts: 101, body: { v: 1, delivery_id: deliveryId } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m1"]);
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(listed.deliveries.find((d: { id: string }) => d.id === deliveryId)).toMatchObject({
      status: "failed",
      last_error: "gave up: the delivery's messages failed every retry",
    });
    const failed = await auditEvents(co.key, "&type=connector.delivery_failed", 1);
    expect(failed[0].metadata).toMatchObject({ delivery_id: deliveryId });
  });
});
