import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { ADMIN_TOKEN, call, tenant } from "../helpers";

describe("admin: companies and the admin token", () => {
  it("creates a company", async () => {
    const res = await call("/v1/admin/companies", { key: ADMIN_TOKEN, body: { name: "Acme" } });
    expect(res.status).toBe(201);
    expect(res.body.company).toEqual({
      id: expect.stringMatching(/^cmp_/),
      name: "Acme",
      created_at: expect.any(String),
    });
  });
  it("refuses a wrong admin token and an API key on admin routes", async () => {
    const { key } = await tenant();
    expect((await call("/v1/admin/companies", { key: "wrong", body: { name: "x" } })).status).toBe(401);
    expect((await call("/v1/admin/companies", { key, body: { name: "x" } })).status).toBe(401);
    expect((await call("/v1/admin/companies", { body: { name: "x" } })).status).toBe(401);
    // The envelope says what was wrong: an admin token, not an API key.
    expect((await call("/v1/admin/companies", { key: "wrong", body: { name: "x" } })).body).toEqual({
      error: "Missing or wrong admin token",
      code: "unauthorized",
    });
  });
  it("answers 404 on admin routes when no ADMIN_TOKEN is configured", async () => {
    const app = buildApp();
    const res = await app.fetch(
      new Request("https://idp.test/v1/admin/companies", {
        method: "POST",
        headers: { authorization: "Bearer anything", "content-type": "application/json" },
        body: JSON.stringify({ name: "x" }),
      }),
      { ...env, ADMIN_TOKEN: undefined },
    );
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: "not_found" });
  });
});
