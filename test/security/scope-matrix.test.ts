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
  /** The route as the router knows it. */
  route: string;
  /** A concrete request to it. */
  path: string;
  scope: Scope;
  body?: unknown;
}

const otpBody = { otp: { issuer_name: "Acme", account_name: "a@b.c" } };
const SCOPED_ROUTES: RouteCase[] = [
  {
    method: "POST",
    route: "/v1/idp/users",
    path: "/v1/idp/users",
    scope: "idp:write",
    body: { user: { external_id: "scoped" } },
  },
  { method: "GET", route: "/v1/idp/users", path: "/v1/idp/users?externalUserId=scoped", scope: "idp:read" },
  {
    method: "POST",
    route: "/v1/idp/users/unlock",
    path: "/v1/idp/users/unlock?externalUserId=scoped",
    scope: "idp:write",
  },
  {
    method: "POST",
    route: "/v1/idp/otp",
    path: "/v1/idp/otp?externalUserId=scoped",
    scope: "idp:write",
    body: otpBody,
  },
  {
    method: "POST",
    route: "/v1/idp/otp/verify",
    path: "/v1/idp/otp/verify",
    scope: "idp:write",
    body: { otp: { id: "scoped", code: "123456" } },
  },
  {
    method: "POST",
    route: "/v1/idp/backup-codes",
    path: "/v1/idp/backup-codes?externalUserId=scoped",
    scope: "idp:write",
    body: {},
  },
  {
    method: "POST",
    route: "/v1/idp/sessions/introspect",
    path: "/v1/idp/sessions/introspect",
    scope: "idp:read",
    body: { session: { token: "hst_x" } },
  },
  { method: "GET", route: "/v1/idp/sessions", path: "/v1/idp/sessions?externalUserId=scoped", scope: "idp:read" },
  { method: "DELETE", route: "/v1/idp/sessions/:id", path: "/v1/idp/sessions/ses_x", scope: "idp:write" },
  ...(["disable", "enable", "revoke-sessions", "force-mfa"] as const).map((action) => ({
    method: "POST",
    route: `/v1/sentinel/identity/:userId/${action}`,
    path: `/v1/sentinel/identity/idn_x/${action}`,
    scope: "sentinel:write" as const,
    body: { reason: "scope test" },
  })),
  {
    method: "GET",
    route: "/v1/sentinel/identity/:userId/actions",
    path: "/v1/sentinel/identity/idn_x/actions",
    scope: "sentinel:read",
  },
  {
    method: "POST",
    route: "/v1/sentinel/incidents",
    path: "/v1/sentinel/incidents",
    scope: "sentinel:write",
    body: { title: "t" },
  },
  {
    method: "GET",
    route: "/v1/sentinel/incidents",
    path: "/v1/sentinel/incidents?status=open",
    scope: "sentinel:read",
  },
  { method: "GET", route: "/v1/sentinel/incidents/:id", path: "/v1/sentinel/incidents/inc_x", scope: "sentinel:read" },
  {
    method: "POST",
    route: "/v1/sentinel/incidents/:id/close",
    path: "/v1/sentinel/incidents/inc_x/close",
    scope: "sentinel:write",
  },
  {
    method: "POST",
    route: "/v1/sentinel/discover",
    path: "/v1/sentinel/discover",
    scope: "sentinel:write",
    body: { sentinel: { id: "idn_x", context: { ip: "1.1.1.1", ua: "EnterpriseAgent/1.0" } } },
  },
  { method: "GET", route: "/v1/sentinel/assessments", path: "/v1/sentinel/assessments", scope: "sentinel:read" },
  {
    method: "GET",
    route: "/v1/sentinel/assessments/:id",
    path: "/v1/sentinel/assessments/asm_x",
    scope: "sentinel:read",
  },
  {
    method: "POST",
    route: "/v1/sentinel/assessments/:id/feedback",
    path: "/v1/sentinel/assessments/asm_x/feedback",
    scope: "sentinel:write",
    body: { verdict: "legitimate" },
  },
  { method: "GET", route: "/v1/sentinel/policy", path: "/v1/sentinel/policy", scope: "sentinel:read" },
  {
    method: "PUT",
    route: "/v1/sentinel/policy",
    path: "/v1/sentinel/policy",
    scope: "sentinel:write",
    body: { max_travel_kmh: 900 },
  },
  {
    method: "POST",
    route: "/v1/sentinel/connectors",
    path: "/v1/sentinel/connectors",
    scope: "sentinel:write",
    body: { type: "okta", name: "o", base_url: "https://acme.okta.example", credentials: { api_token: "x" } },
  },
  { method: "GET", route: "/v1/sentinel/connectors", path: "/v1/sentinel/connectors", scope: "sentinel:read" },
  {
    method: "GET",
    route: "/v1/sentinel/connectors/:id",
    path: "/v1/sentinel/connectors/con_x",
    scope: "sentinel:read",
  },
  {
    method: "DELETE",
    route: "/v1/sentinel/connectors/:id",
    path: "/v1/sentinel/connectors/con_x",
    scope: "sentinel:write",
  },
  {
    method: "POST",
    route: "/v1/sentinel/connectors/:id/test",
    path: "/v1/sentinel/connectors/con_x/test",
    scope: "sentinel:write",
  },
  {
    method: "PUT",
    route: "/v1/sentinel/identity/:userId/links/:connectorId",
    path: "/v1/sentinel/identity/idn_x/links/con_x",
    scope: "sentinel:write",
    body: { provider_user_id: "00u1" },
  },
  { method: "GET", route: "/v1/audit/events", path: "/v1/audit/events", scope: "audit:read" },
  { method: "GET", route: "/v1/audit/verify", path: "/v1/audit/verify", scope: "audit:read" },
  { method: "GET", route: "/v1/audit/rollups", path: "/v1/audit/rollups", scope: "audit:read" },
];

const PUBLIC_OR_ADMIN = /^\/v1\/(health|openapi\.json|admin\/)/;

describe("scope matrix", () => {
  it("covers every route that takes an API key", () => {
    const served = buildApp()
      .routes.filter((r) => r.method !== "ALL" && !PUBLIC_OR_ADMIN.test(r.path))
      .map((r) => `${r.method} ${r.path}`);
    const covered = SCOPED_ROUTES.map((r) => `${r.method} ${r.route}`);
    expect(new Set(covered)).toEqual(new Set(served));
  });

  it.each(SCOPED_ROUTES)("$method $route needs $scope", async (route) => {
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
