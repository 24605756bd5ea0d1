import { describe, expect, it } from "vitest";
import { call, enrolled, tenant } from "../helpers";

describe("incidents", () => {
  it("opens, reads with its actions, and closes an incident", async () => {
    const { key, keyId, identityId } = await enrolled("u");
    const opened = await call("/v1/sentinel/incidents", {
      key,
      body: { title: "Credential stuffing", severity: "high" },
    });
    expect(opened.status).toBe(201);
    const incident = opened.body.incident;
    expect(incident).toEqual({
      id: expect.stringMatching(/^inc_[0-9A-Z]{26}$/),
      title: "Credential stuffing",
      severity: "high",
      status: "open",
      created_by: keyId,
      created_at: expect.any(String),
      closed_at: null,
    });

    const disabled = await call(`/v1/sentinel/identity/${identityId}/disable`, {
      key,
      body: { reason: "r", incident_id: incident.id },
    });
    expect(disabled.status).toBe(200);
    const read = await call(`/v1/sentinel/incidents/${incident.id}`, { key });
    expect(read.status).toBe(200);
    expect(read.body.incident.actions).toEqual([disabled.body.data.action]);

    const closed = await call(`/v1/sentinel/incidents/${incident.id}/close`, { key, method: "POST" });
    expect(closed.status).toBe(200);
    expect(closed.body.incident).toMatchObject({ status: "closed", closed_at: expect.any(String) });
  });

  it("refuses an action naming a closed incident with 409 and changes nothing", async () => {
    const { key, identityId } = await enrolled("u");
    const incident = (await call("/v1/sentinel/incidents", { key, body: { title: "t" } })).body.incident;
    expect(incident.severity).toBe("medium");
    await call(`/v1/sentinel/incidents/${incident.id}/close`, { key, method: "POST" });
    const res = await call(`/v1/sentinel/identity/${identityId}/disable`, {
      key,
      body: { reason: "r", incident_id: incident.id },
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "incident_closed", incident_id: incident.id });
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.status).toBe("active");
  });

  it("keeps an unknown incident id as an external reference", async () => {
    const { key, identityId } = await enrolled("u");
    const res = await call(`/v1/sentinel/identity/${identityId}/force-mfa`, {
      key,
      body: { incident_id: "JIRA-SEC-1234" },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.action.incident_id).toBe("JIRA-SEC-1234");
  });

  it("answers 404 for an unknown incident", async () => {
    const { key } = await tenant();
    expect((await call("/v1/sentinel/incidents/inc_nope", { key })).status).toBe(404);
    expect((await call("/v1/sentinel/incidents/inc_nope/close", { key, method: "POST" })).status).toBe(404);
  });

  it("audits opening and closing on the company chain", async () => {
    const { key } = await tenant();
    const incident = (await call("/v1/sentinel/incidents", { key, body: { title: "t" } })).body.incident;
    await call(`/v1/sentinel/incidents/${incident.id}/close`, { key, method: "POST" });
    const events = (await call(`/v1/audit/events?type=incident.closed`, { key })).body.events;
    expect(events).toHaveLength(1);
    expect(events[0].incident_id).toBe(incident.id);
  });
});
