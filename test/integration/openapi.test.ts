import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { call } from "../helpers";

/** Hono's `:param` paths in OpenAPI's `{param}` form. */
function openapiPath(honoPath: string): string {
  return honoPath.replaceAll(/:([A-Za-z0-9_]+)/g, "{$1}");
}

describe("GET /v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document served without a key", async () => {
    const res = await call("/v1/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
  });

  it("lists every route the code serves, with its method", async () => {
    const doc = (await call("/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const served = buildApp()
      .routes.filter((r) => r.method !== "ALL")
      .map((r) => `${r.method.toLowerCase()} ${openapiPath(r.path)}`);
    expect(served.length).toBeGreaterThan(5);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(new Set(documented)).toEqual(new Set(served));
  });

  it("documents the seed's request fields", async () => {
    const doc = (await call("/v1/openapi.json")).body;
    const provision = doc.paths["/v1/idp/users"].post;
    const schema = provision.requestBody.content["application/json"].schema;
    expect(JSON.stringify(schema)).toContain("external_id");
  });
});
