import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createCompany, tenant } from "../helpers";

describe("admin: API keys", () => {
  it("creates a key shown once and stores only its hash", async () => {
    const companyId = await createCompany();
    const res = await call("/v1/admin/api-keys", {
      key: ADMIN_TOKEN,
      body: { company_id: companyId, scopes: ["idp:read"], name: "ci", mode: "test" },
    });
    expect(res.status).toBe(201);
    const apiKey = res.body.api_key;
    expect(apiKey.key).toMatch(/^hld_test_[0-9A-Za-z]{40}$/);
    expect(apiKey.key.startsWith(apiKey.prefix)).toBe(true);
    expect(apiKey).toMatchObject({ scopes: ["idp:read"], mode: "test", name: "ci" });

    const stored = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(apiKey.id).first();
    expect(JSON.stringify(stored)).not.toContain(apiKey.key);
    expect(stored?.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });
  it("answers 404 creating a key for an unknown company", async () => {
    const res = await call("/v1/admin/api-keys", {
      key: ADMIN_TOKEN,
      body: { company_id: "cmp_nope", scopes: ["idp:read"] },
    });
    expect(res.status).toBe(404);
  });
  it("revokes a key: the next request with it is 401, and revoking again is harmless", async () => {
    const { key, keyId } = await tenant();
    expect((await call("/v1/idp/users?externalUserId=x", { key })).status).toBe(404);
    const revoked = await call(`/v1/admin/api-keys/${keyId}`, { key: ADMIN_TOKEN, method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect(revoked.body.api_key).toEqual({ id: keyId, revoked_at: expect.any(String) });
    const after = await call("/v1/idp/users?externalUserId=x", { key });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe("unauthorized");
    const again = await call(`/v1/admin/api-keys/${keyId}`, { key: ADMIN_TOKEN, method: "DELETE" });
    expect(again.status).toBe(200);
    expect(again.body.api_key.revoked_at).toBe(revoked.body.api_key.revoked_at);
  });
  it("refuses a key with no scopes or an unknown scope", async () => {
    const companyId = await createCompany();
    for (const scopes of [[], ["idp:admin"], "idp:read"]) {
      const res = await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_request");
      expect(res.body.details[0].path).toMatch(/^scopes/);
    }
  });
  it("audits company creation and key changes on the company chain", async () => {
    const { key, keyId } = await tenant();
    const events = await call("/v1/audit/events", { key });
    const types = events.body.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(["api_key.created", "company.created"]);
    expect(events.body.events[0].metadata.key_id).toBe(keyId);
    expect(JSON.stringify(events.body)).not.toContain(key);
  });
});
