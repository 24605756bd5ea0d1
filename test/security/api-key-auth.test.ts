/**
 * Threat: a caller without a valid key (none, a malformed one, a guessed one, a revoked one,
 * or one leaked through a URL) reaches tenant data. Every such request must be 401 with the
 * one envelope, and must not reveal which of those it was beyond the message.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, tenant } from "../helpers";

const PROFILE = "/v1/idp/users?externalUserId=someone";

describe("API key authentication", () => {
  it.each([
    ["no Authorization header", {}],
    ["an empty bearer", { authorization: "Bearer " }],
    ["a non-bearer scheme", { authorization: "Basic aGxkOmtleQ==" }],
    ["a malformed key", { authorization: "Bearer not-a-key" }],
    ["a short key", { authorization: "Bearer hld_live_abc" }],
    ["a wrong prefix", { authorization: `Bearer hld_prod_${"a".repeat(40)}` }],
    ["an unknown well-formed key", { authorization: `Bearer hld_live_${"A".repeat(40)}` }],
    ["the admin token", { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ])("answers 401 for %s", async (_name, headers) => {
    const res = await call(PROFILE, { headers });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: expect.any(String), code: "unauthorized" });
  });

  it("answers 401 for a revoked key", async () => {
    const { key, keyId } = await tenant();
    await call(`/v1/admin/api-keys/${keyId}`, { key: ADMIN_TOKEN, method: "DELETE" });
    const res = await call(PROFILE, { key });
    expect(res.status).toBe(401);
  });

  it("refuses a key in the query string even when it is valid", async () => {
    const { key } = await tenant();
    for (const param of ["api_key", "access_token", "token", "key"]) {
      const res = await call(`${PROFILE}&${param}=${key}`, {});
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.body)).not.toContain(key);
    }
    const withHeaderToo = await call(`${PROFILE}&api_key=${key}`, { key });
    expect(withHeaderToo.status).toBe(401);
  });

  it("refuses a key-shaped value in any query parameter", async () => {
    const { key } = await tenant();
    const res = await call(`/v1/idp/users?externalUserId=${key}`, { key });
    expect(res.status).toBe(401);
  });

  it("refuses a key inside another query value, in any position, and in a parameter name", async () => {
    const { key } = await tenant();
    for (const query of [
      `externalUserId=alice&note=see%20${key}`,
      `externalUserId=alice&note=${key}-suffix`,
      `externalUserId=prefix${key}`,
      `externalUserId=alice&${key}=1`,
      `externalUserId=alice&note=${encodeURIComponent(`"${key}"`)}`,
      `externalUserId=alice&note=${key.replace("_", "%5F")}`,
    ]) {
      const res = await call(`/v1/idp/users?${query}`, { key });
      expect(res.status, query).toBe(401);
      expect(res.body.code).toBe("unauthorized");
      expect(JSON.stringify(res.body)).not.toContain(key);
    }
  });

  it("refuses a key-shaped value in the query of any route, admin and unknown ones included", async () => {
    const { key } = await tenant();
    for (const path of ["/v1/admin/api-keys/key_x", "/v1/nothing-here", "/v1/audit/events"]) {
      const res = await call(`${path}?q=${key}`, {
        key: ADMIN_TOKEN,
        method: path.includes("admin") ? "DELETE" : "GET",
      });
      expect(res.status, path).toBe(401);
    }
  });

  it("refuses a key pasted into a path segment", async () => {
    const { key } = await tenant();
    const res = await call(`/v1/idp/sessions/${key}`, { key, method: "DELETE" });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(key);
  });

  it("cannot provision an external id shaped like a key, so no identity is unreachable", async () => {
    const { key } = await tenant();
    for (const externalId of [`hld_live_${"a".repeat(32)}`, `user-hld_test_${"B".repeat(40)}-x`]) {
      const res = await call("/v1/idp/users", { key, body: { user: { external_id: externalId } } });
      expect(res.status, externalId).toBe(400);
      expect(res.body).toMatchObject({ code: "invalid_request", details: [{ path: "user.external_id" }] });
    }
    // One character short of a key is an ordinary id, reachable by every route.
    const almost = `hld_live_${"a".repeat(31)}`;
    expect((await call("/v1/idp/users", { key, body: { user: { external_id: almost } } })).status).toBe(201);
    expect((await call(`/v1/idp/users?externalUserId=${almost}`, { key })).status).toBe(200);
  });

  it("does not mistake an external id that merely starts like a key for one", async () => {
    const { key } = await tenant();
    const res = await call("/v1/idp/users?externalUserId=hld_user_42", { key });
    expect(res.status).toBe(404);
  });

  it("accepts a test-mode key like a live one", async () => {
    const { companyId } = await tenant();
    const created = await call("/v1/admin/api-keys", {
      key: ADMIN_TOKEN,
      body: { company_id: companyId, scopes: ["idp:read"], mode: "test" },
    });
    const res = await call(PROFILE, { key: created.body.api_key.key });
    expect(res.status).toBe(404);
  });
});
