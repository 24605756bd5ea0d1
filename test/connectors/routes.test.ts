/** The connector routes: validation, tenancy, the credentials check, deletion. */
import { describe, expect, it } from "vitest";
import { call, provision, tenant } from "../helpers";
import { connected, connectorBody, settledAction, standIn } from "./support";

describe("POST /v1/sentinel/connectors", () => {
  it("answers the connector without its credentials, and lists it", async () => {
    const { key } = await tenant();
    const stand = standIn();
    const res = await call("/v1/sentinel/connectors", { key, body: connectorBody("okta", stand.root) });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      connector: {
        id: expect.stringMatching(/^con_/),
        type: "okta",
        name: "Acme Okta",
        base_url: `${stand.root}/okta`,
        token_url: null,
        created_at: expect.stringMatching(/Z$/),
      },
    });
    const listed = await call("/v1/sentinel/connectors", { key });
    expect(listed.body.connectors).toEqual([res.body.connector]);
  });

  it("defaults Entra ID's and Google's URLs to the providers' real hosts", async () => {
    const { key } = await tenant();
    const entra = connectorBody("entra", "x");
    delete entra.base_url;
    delete entra.token_url;
    const res = await call("/v1/sentinel/connectors", { key, body: entra });
    expect(res.status).toBe(201);
    expect(res.body.connector).toMatchObject({
      base_url: "https://graph.microsoft.com",
      token_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
    });
  });

  it("refuses bad bodies with the error envelope", async () => {
    const { key } = await tenant();
    const okta = connectorBody("okta", "https://acme.okta.example");
    const cases: [string, unknown][] = [
      ["unknown type", { ...okta, type: "ldap" }],
      ["okta without base_url", { type: "okta", name: "o", credentials: { api_token: "t" } }],
      ["okta with entra credentials", { ...okta, credentials: { tenant_id: "a", client_id: "b", client_secret: "c" } }],
      ["an unknown credential field", { ...okta, credentials: { api_token: "t", extra: 1 } }],
      ["a relative URL", { ...okta, base_url: "/okta" }],
      ["an ftp URL", { ...okta, base_url: "ftp://acme.okta.example" }],
      ["a URL with credentials", { ...okta, base_url: "https://user:pw@acme.okta.example" }],
      ["a URL with a query", { ...okta, base_url: "https://acme.okta.example/?x=1" }],
      [
        "a private key that is not PEM",
        { ...connectorBody("google_workspace", "https://x.example", "not a key"), base_url: "https://x.example" },
      ],
      ["a control character in the name", { ...okta, name: "a\u0007b" }],
    ];
    for (const [what, body] of cases) {
      const res = await call("/v1/sentinel/connectors", { key, body });
      expect(res.status, what).toBe(400);
      expect(res.body.code, what).toBe("invalid_request");
    }
  });
});

describe("connectors belong to their company", () => {
  it("another company's connector is 404 everywhere, and its actions never reach it", async () => {
    const owner = await connected(["okta"]);
    const okta = owner.connectors.okta as { id: string; stand: any };
    const other = await tenant("Other");
    const mallory = (await provision(other.key, "mallory")).body.user.id;
    for (const [method, path] of [
      ["GET", `/v1/sentinel/connectors/${okta.id}`],
      ["DELETE", `/v1/sentinel/connectors/${okta.id}`],
      ["POST", `/v1/sentinel/connectors/${okta.id}/test`],
    ] as const) {
      const res = await call(path, { key: other.key, method });
      expect(res.status, path).toBe(404);
    }
    const link = await call(`/v1/sentinel/identity/${mallory}/links/${okta.id}`, {
      key: other.key,
      method: "PUT",
      body: { provider_user_id: "x" },
    });
    expect(link.status).toBe(404);
    expect((await call("/v1/sentinel/connectors", { key: other.key })).body.connectors).toEqual([]);
    const res = await call(`/v1/sentinel/identity/${mallory}/disable`, { key: other.key, body: { reason: "r" } });
    expect(res.body.data.deliveries).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await okta.stand.log()).toEqual([]);
  });
});

describe("POST /v1/sentinel/connectors/:id/test", () => {
  it("tells a good credential from a refused one", async () => {
    const co = await connected(["entra", "okta", "google_workspace"]);
    for (const type of ["entra", "okta", "google_workspace"] as const) {
      const res = await call(`/v1/sentinel/connectors/${co.connectors[type]?.id}/test`, {
        key: co.key,
        method: "POST",
      });
      expect(res.body, type).toMatchObject({ ok: true });
    }
    const { key } = await tenant();
    const stand = standIn();
    const wrong = connectorBody("entra", stand.root);
    (wrong.credentials as { client_secret: string }).client_secret = "wrong-secret";
    const created = await call("/v1/sentinel/connectors", { key, body: wrong });
    const res = await call(`/v1/sentinel/connectors/${created.body.connector.id}/test`, { key, method: "POST" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: false, detail: "token: HTTP 401 (invalid_client)" });
    const oktaStand = standIn();
    await oktaStand.script({ api: [403] });
    const okta = await call("/v1/sentinel/connectors", { key, body: connectorBody("okta", oktaStand.root) });
    const refused = await call(`/v1/sentinel/connectors/${okta.body.connector.id}/test`, { key, method: "POST" });
    expect(refused.body).toEqual({ ok: false, detail: "GET /api/v1/users?limit=1: HTTP 403 (Forbidden)" });
  });
});

describe("DELETE /v1/sentinel/connectors/:id", () => {
  it("stops later actions from going to it", async () => {
    const co = await connected(["okta"]);
    const okta = co.connectors.okta as { id: string; stand: any };
    const deleted = await call(`/v1/sentinel/connectors/${okta.id}`, { key: co.key, method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(deleted.body.connector).toMatchObject({ id: okta.id, deleted_at: expect.stringMatching(/Z$/) });
    expect((await call(`/v1/sentinel/connectors/${okta.id}`, { key: co.key })).status).toBe(404);
    const res = await call(`/v1/sentinel/identity/${co.identityId}/disable`, { key: co.key, body: { reason: "r" } });
    expect(res.body.data.deliveries).toEqual([]);
    await settledAction(co.key, co.identityId, res.body.data.action.id);
    expect(await okta.stand.log()).toEqual([]);
  });
});
