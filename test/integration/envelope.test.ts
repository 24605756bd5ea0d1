import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { ERRORS } from "../../src/errors";
import { ADMIN_TOKEN, call } from "../helpers";

describe("every response", () => {
  it("carries X-Request-Id and Cache-Control: no-store, success or error", async () => {
    for (const path of ["/v1/health", "/v1/openapi.json", "/v1/idp/users?externalUserId=x", "/missing"]) {
      const res = await call(path);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9A-Z]{26}$/);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    }
  });

  it("gives each request its own id", async () => {
    const a = await call("/v1/health");
    const b = await call("/v1/health");
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
  });

  it("answers an unexpected failure with a bare 500 envelope: no stack, no SQL, no detail", async () => {
    const app = buildApp();
    const res = await app.fetch(
      new Request("https://idp.test/v1/admin/api-keys", {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ company_id: "cmp_x", scopes: ["idp:read"] }),
      }),
      { ...env, DB: undefined },
    );
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: ERRORS.internal_error.message, code: "internal_error" });
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("answers health without a key", async () => {
    const res = await call("/v1/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });
});
