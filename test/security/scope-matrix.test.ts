/**
 * Threat: a key issued for one purpose (say, read-only profile checks) is used to change
 * identities or read the audit trail. Each route requires exactly its scope; a key with every
 * other scope gets 403 `insufficient_scope` naming the one it lacks, and nothing changes.
 */
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import type { Scope } from "../../src/http/context";
import { ALL_SCOPES, call, createKey, tenant } from "../helpers";

interface RouteCase {
  method: string;
  path: string;
  scope: Scope;
  body?: unknown;
}

const SCOPED_ROUTES: RouteCase[] = [
  { method: "POST", path: "/v1/idp/users", scope: "idp:write", body: { user: { external_id: "scoped" } } },
  { method: "GET", path: "/v1/idp/users?externalUserId=scoped", scope: "idp:read" },
  { method: "POST", path: "/v1/idp/users/unlock?externalUserId=scoped", scope: "idp:write" },
  {
    method: "POST",
    path: "/v1/idp/otp?externalUserId=scoped",
    scope: "idp:write",
    body: { otp: { issuer_name: "Acme", account_name: "a@b.c" } },
  },
  { method: "POST", path: "/v1/idp/otp/verify", scope: "idp:write", body: { otp: { id: "scoped", code: "123456" } } },
  { method: "POST", path: "/v1/idp/backup-codes?externalUserId=scoped", scope: "idp:write", body: {} },
  { method: "GET", path: "/v1/audit/events", scope: "audit:read" },
  { method: "GET", path: "/v1/audit/verify", scope: "audit:read" },
];

const PUBLIC_OR_ADMIN = /^\/v1\/(health|openapi\.json|admin\/)/;

describe("scope matrix", () => {
  it("covers every route that takes an API key", () => {
    const served = buildApp()
      .routes.filter((r) => r.method !== "ALL" && !PUBLIC_OR_ADMIN.test(r.path))
      .map((r) => `${r.method} ${r.path}`);
    const covered = SCOPED_ROUTES.map((r) => `${r.method} ${r.path.split("?")[0]}`);
    expect(new Set(covered)).toEqual(new Set(served));
  });

  it.each(SCOPED_ROUTES)("$method $path needs $scope", async (route) => {
    const { companyId } = await tenant();
    const without = await createKey(
      companyId,
      ALL_SCOPES.filter((s) => s !== route.scope),
    );
    const denied = await call(route.path, { method: route.method, key: without.key, body: route.body });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      error: expect.any(String),
      code: "insufficient_scope",
      required_scope: route.scope,
    });

    const only = await createKey(companyId, [route.scope]);
    const allowed = await call(route.path, { method: route.method, key: only.key, body: route.body });
    expect(allowed.status).not.toBe(403);
    expect(allowed.status).not.toBe(401);
  });

  it("changes nothing when the scope is missing", async () => {
    const { companyId, key } = await tenant();
    const readOnly = await createKey(companyId, ["idp:read"]);
    await call("/v1/idp/users", { key: readOnly.key, body: { user: { external_id: "not-created" } } });
    const res = await call("/v1/idp/users?externalUserId=not-created", { key });
    expect(res.status).toBe(404);
  });
});
