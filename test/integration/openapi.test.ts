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

  it("documents the contract's request fields", async () => {
    const doc = (await call("/v1/openapi.json")).body;
    const provision = doc.paths["/v1/idp/users"].post;
    const schema = provision.requestBody.content["application/json"].schema;
    expect(JSON.stringify(schema)).toContain("external_id");
  });

  it("carries patterns a validator can use: flag-free, accepting every valid id, refusing control characters", async () => {
    const doc = (await call("/v1/openapi.json")).body;
    const patterns = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "pattern" && typeof value === "string") patterns.add(value);
          else collect(value);
        }
      }
    };
    collect(doc);
    expect(patterns.size).toBeGreaterThan(0);
    for (const pattern of patterns) {
      expect(pattern, pattern).not.toMatch(/\/[a-z]*$/);
      new RegExp(pattern); // compiles as JSON Schema's ECMA-262 dialect, no flags
    }
    const query = doc.paths["/v1/idp/users"].get.parameters.find((p: { name: string }) => p.name === "externalUserId");
    const idPattern = new RegExp(query.schema.pattern);
    for (const valid of ["ORG_USR_9921_AFG", "alice@example.com", "ünïcödé 名前", "a:b", "\u{1F600}"]) {
      expect(idPattern.test(valid), valid).toBe(true);
    }
    for (const invalid of ["a\u0000b", "tab\there", "del\u007f", "c1\u0085"])
      expect(idPattern.test(invalid)).toBe(false);
    const issuer =
      doc.paths["/v1/idp/otp"].post.requestBody.content["application/json"].schema.properties.otp.properties
        .issuer_name;
    expect(new RegExp(issuer.pattern).test("Acme Enterprise")).toBe(true);
    expect(new RegExp(issuer.pattern).test("Acme:Enterprise")).toBe(false);
  });
});
