/**
 * A provider that fails, refuses or hangs: 5xx and 429 retry with backoff until delivered, a
 * final 4xx fails at once, a hang times out and retries, the action's own answer never waits
 * for a provider, and an enable is delivered after the disable before it.
 */
import { describe, expect, it } from "vitest";
import { auditEvents, call } from "../helpers";
import { apiCalls, connected, problems, settledAction } from "./support";

const USER = encodeURIComponent("alice@acme.example");
const SUSPEND = `POST /okta/api/v1/users/${USER}/lifecycle/suspend`;
const CLEAR = `DELETE /okta/api/v1/users/${USER}/sessions?oauthTokens=true`;
const UNSUSPEND = `POST /okta/api/v1/users/${USER}/lifecycle/unsuspend`;

describe("delivery faults", () => {
  it("5xx then 200 ends delivered after a retry", async () => {
    const co = await connected(["okta"]);
    const okta = co.connectors.okta as { id: string; stand: any };
    await okta.stand.script({ api: [503] });
    const res = await call(`/v1/sentinel/identity/${co.identityId}/disable`, { key: co.key, body: { reason: "IR" } });
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(listed.deliveries).toMatchObject([{ status: "delivered", attempts: 2, last_error: null }]);
    expect(apiCalls(await okta.stand.log())).toEqual([SUSPEND, SUSPEND, CLEAR]);
    const tries = await auditEvents(co.key, "&type=connector.delivery", 2);
    expect(tries.map((e) => [e.outcome, e.metadata.attempt, e.metadata.status]).sort()).toEqual([
      ["failure", 1, "pending"],
      ["success", 2, "delivered"],
    ]);
    expect(tries.find((e) => e.outcome === "failure").reason).toBe(
      `${SUSPEND.replace("/okta", "")}: HTTP 503 (ServiceUnavailable)`,
    );
  });

  it("429 is retried like a 5xx", async () => {
    const co = await connected(["entra"]);
    const entra = co.connectors.entra as { id: string; stand: any };
    await entra.stand.script({ api: [429] });
    const res = await call(`/v1/sentinel/identity/${co.identityId}/revoke-sessions`, { key: co.key, body: {} });
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(listed.deliveries).toMatchObject([{ status: "delivered", attempts: 2 }]);
  });

  it("a 4xx ends failed without a retry, audited, and shown on the connector", async () => {
    const co = await connected(["okta"]);
    const okta = co.connectors.okta as { id: string; stand: any };
    await okta.stand.script({ api: [404] });
    const res = await call(`/v1/sentinel/identity/${co.identityId}/disable`, { key: co.key, body: { reason: "IR" } });
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    const error = `POST /api/v1/users/${USER}/lifecycle/suspend: HTTP 404 (NotFound)`;
    expect(listed.deliveries).toMatchObject([{ status: "failed", attempts: 1, last_error: error }]);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(apiCalls(await okta.stand.log())).toEqual([SUSPEND]);
    const failed = await auditEvents(co.key, "&type=connector.delivery_failed", 1);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ identity_id: co.identityId, outcome: "failure", reason: error });
    const view = await call(`/v1/sentinel/connectors/${okta.id}`, { key: co.key });
    expect(view.body.connector.recent_failures).toMatchObject([
      {
        action_id: res.body.data.action.id,
        action_type: "disable",
        identity_id: co.identityId,
        attempts: 1,
        last_error: error,
      },
    ]);
  });

  it("a 401 gets one token refresh, then fails", async () => {
    const co = await connected(["google_workspace"]);
    const google = co.connectors.google_workspace as { id: string; stand: any };
    await google.stand.script({ api: [401, 401] });
    const res = await call(`/v1/sentinel/identity/${co.identityId}/revoke-sessions`, { key: co.key, body: {} });
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(listed.deliveries).toMatchObject([{ status: "failed", attempts: 1 }]);
    const log = await google.stand.log();
    expect(log.map((r: { kind: string }) => r.kind)).toEqual(["token", "api", "token", "api"]);
    expect(problems(log)).toEqual([]);
  });

  it("a hanging provider times out and is retried; the action answered without waiting", async () => {
    const co = await connected(["okta"]);
    const okta = co.connectors.okta as { id: string; stand: any };
    await okta.stand.script({ api: ["hang"] });
    const res = await call(`/v1/sentinel/identity/${co.identityId}/disable`, { key: co.key, body: { reason: "IR" } });
    expect(res.status).toBe(200);
    expect(res.body.data.deliveries).toMatchObject([{ status: "pending", attempts: 0 }]);
    const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(listed.deliveries).toMatchObject([{ status: "delivered", attempts: 2 }]);
    const tries = await auditEvents(co.key, "&type=connector.delivery", 2);
    expect(tries.find((e) => e.outcome === "failure").reason).toBe(
      `POST /api/v1/users/${USER}/lifecycle/suspend: timed out`,
    );
  });

  it("the action's answer does not wait for a provider that never answers", async () => {
    const co = await connected(["entra", "okta", "google_workspace"]);
    for (const type of ["entra", "okta", "google_workspace"] as const) {
      await co.connectors[type]?.stand.script({ api: ["hang", "hang", "hang"], token: ["hang"] });
    }
    const started = Date.now();
    const res = await call(`/v1/sentinel/identity/${co.identityId}/disable`, { key: co.key, body: { reason: "IR" } });
    expect(res.status).toBe(200);
    // A try takes the 1.5 s timeout here; the answer came before any could have ended.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(res.body.data.deliveries.map((d: { status: string }) => d.status)).toEqual([
      "pending",
      "pending",
      "pending",
    ]);
    expect(res.body.data.identity.status).toBe("disabled");
  });

  it("an enable is delivered after the disable before it, even when the disable needs retries", async () => {
    const co = await connected(["okta"]);
    const okta = co.connectors.okta as { id: string; stand: any };
    await okta.stand.script({ api: [500, 500] });
    const disable = await call(`/v1/sentinel/identity/${co.identityId}/disable`, {
      key: co.key,
      body: { reason: "IR" },
    });
    const enable = await call(`/v1/sentinel/identity/${co.identityId}/enable`, {
      key: co.key,
      body: { reason: "cleared" },
    });
    await settledAction(co.key, co.identityId, disable.body.data.action.id, 40_000);
    const listed = await settledAction(co.key, co.identityId, enable.body.data.action.id, 40_000);
    expect(listed.deliveries).toMatchObject([{ status: "delivered" }]);
    expect(apiCalls(await okta.stand.log())).toEqual([SUSPEND, SUSPEND, SUSPEND, CLEAR, UNSUSPEND]);
  });
});
