/**
 * Every action sends exactly the documented calls, in order, to each provider's stand-in, which
 * checks method, path, headers, body, token and signed assertion as the provider documents them.
 */
import { describe, expect, it } from "vitest";
import { call } from "../helpers";
import { apiCalls, connected, type ProviderName, problems, settledAction } from "./support";

const USER = encodeURIComponent("alice@acme.example");

const EXPECTED_CALLS: Record<ProviderName, Record<"disable" | "enable" | "revoke-sessions", string[]>> = {
  entra: {
    disable: [`PATCH /entra/v1.0/users/${USER}`, `POST /entra/v1.0/users/${USER}/revokeSignInSessions`],
    enable: [`PATCH /entra/v1.0/users/${USER}`],
    "revoke-sessions": [`POST /entra/v1.0/users/${USER}/revokeSignInSessions`],
  },
  okta: {
    disable: [
      `POST /okta/api/v1/users/${USER}/lifecycle/suspend`,
      `DELETE /okta/api/v1/users/${USER}/sessions?oauthTokens=true`,
    ],
    enable: [`POST /okta/api/v1/users/${USER}/lifecycle/unsuspend`],
    "revoke-sessions": [`DELETE /okta/api/v1/users/${USER}/sessions?oauthTokens=true`],
  },
  google_workspace: {
    disable: [`PUT /google/admin/directory/v1/users/${USER}`, `POST /google/admin/directory/v1/users/${USER}/signOut`],
    enable: [`PUT /google/admin/directory/v1/users/${USER}`],
    "revoke-sessions": [`POST /google/admin/directory/v1/users/${USER}/signOut`],
  },
};

describe("each action sends the documented calls, in order", () => {
  for (const type of ["entra", "okta", "google_workspace"] as const) {
    it(`${type}: disable, enable, revoke-sessions`, async () => {
      const co = await connected([type]);
      const { stand, id: connectorId } = co.connectors[type] as (typeof co.connectors)[string];
      let expected: string[] = [];
      for (const action of ["disable", "enable", "revoke-sessions"] as const) {
        const res = await call(`/v1/sentinel/identity/${co.identityId}/${action}`, {
          key: co.key,
          body: { reason: "IR-7" },
        });
        expect(res.status).toBe(200);
        expect(res.body.data.deliveries).toEqual([
          {
            id: expect.stringMatching(/^dlv_/),
            connector_id: connectorId,
            type,
            status: "pending",
            attempts: 0,
            last_error: null,
          },
        ]);
        const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
        expect(listed.deliveries).toMatchObject([
          { connector_id: connectorId, status: "delivered", attempts: 1, last_error: null },
        ]);
        expected = [...expected, ...EXPECTED_CALLS[type][action]];
        const log = await stand.log();
        expect(problems(log)).toEqual([]);
        expect(apiCalls(log)).toEqual(expected);
      }
      const bodies = (await stand.log()).filter((r) => r.kind === "api" && r.body !== "").map((r) => r.body);
      if (type === "entra") expect(bodies).toEqual([{ accountEnabled: false }, { accountEnabled: true }]);
      if (type === "google_workspace") expect(bodies).toEqual([{ suspended: true }, { suspended: false }]);
      if (type === "okta") expect(bodies).toEqual([]);
      // Entra and Google: one token, reused while it lasts; Okta's API token is the credential.
      expect((await stand.log()).filter((r) => r.kind === "token").length).toBe(type === "okta" ? 0 : 1);
    });
  }

  it("force-mfa has no provider call: its delivery is not_applicable", async () => {
    const co = await connected(["okta"]);
    const res = await call(`/v1/sentinel/identity/${co.identityId}/force-mfa`, { key: co.key, method: "POST" });
    expect(res.body.data.deliveries).toMatchObject([{ type: "okta", status: "not_applicable", attempts: 0 }]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await co.connectors.okta?.stand.log()).toEqual([]);
  });

  it("uses the linked provider user id where one is set", async () => {
    const co = await connected(["okta"]);
    const okta = co.connectors.okta as { id: string; stand: { log: () => Promise<any[]> } };
    const linked = await call(`/v1/sentinel/identity/${co.identityId}/links/${okta.id}`, {
      key: co.key,
      method: "PUT",
      body: { provider_user_id: "00u1abcd2EFGH3ijk4x7" },
    });
    expect(linked.status).toBe(200);
    const res = await call(`/v1/sentinel/identity/${co.identityId}/revoke-sessions`, { key: co.key, body: {} });
    await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(apiCalls(await okta.stand.log())).toEqual([
      "DELETE /okta/api/v1/users/00u1abcd2EFGH3ijk4x7/sessions?oauthTokens=true",
    ]);
  });

  it("the contract's combining actions (disable AND revoke sessions) reach all three providers", async () => {
    const co = await connected(["entra", "okta", "google_workspace"]);
    const incident = (
      await call("/v1/sentinel/incidents", { key: co.key, body: { title: "Credential attack", severity: "high" } })
    ).body.incident;
    const reason = "Active credential attack confirmed.";
    const [disable, revoke] = await Promise.all([
      call(`/v1/sentinel/identity/${co.identityId}/disable`, {
        key: co.key,
        body: { reason, incident_id: incident.id },
      }),
      call(`/v1/sentinel/identity/${co.identityId}/revoke-sessions`, {
        key: co.key,
        body: { reason, incident_id: incident.id },
      }),
    ]);
    expect([disable.status, revoke.status]).toEqual([200, 200]);
    for (const res of [disable, revoke]) {
      const listed = await settledAction(co.key, co.identityId, res.body.data.action.id);
      expect(listed.deliveries.map((d: { type: string; status: string }) => `${d.type}:${d.status}`).sort()).toEqual([
        "entra:delivered",
        "google_workspace:delivered",
        "okta:delivered",
      ]);
    }
    for (const type of ["entra", "okta", "google_workspace"] as const) {
      const log = await co.connectors[type]?.stand.log();
      expect(problems(log ?? [])).toEqual([]);
      // Both actions' calls arrived, whatever order the two actions took.
      const calls = apiCalls(log ?? []);
      expect([...calls].sort()).toEqual(
        [...EXPECTED_CALLS[type].disable, ...EXPECTED_CALLS[type]["revoke-sessions"]].sort(),
      );
    }
    const view = await call(`/v1/sentinel/incidents/${incident.id}`, { key: co.key });
    expect(view.body.incident.actions).toHaveLength(2);
    for (const action of view.body.incident.actions) expect(action.deliveries).toHaveLength(3);
  });
});
