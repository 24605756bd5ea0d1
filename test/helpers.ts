import { SELF } from "cloudflare:test";
import { Secret, TOTP } from "otpauth";
import type { Scope } from "../src/http/context";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
export const ALL_SCOPES: Scope[] = ["idp:read", "idp:write", "sentinel:read", "sentinel:write", "audit:read"];
const BASE = "https://idp.test";

export interface CallOptions {
  method?: string;
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** One request through the real Worker (SELF), JSON in and out. */
export async function call(
  path: string,
  options: CallOptions = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await SELF.fetch(`${BASE}${path}`, {
    method: options.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    body,
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function createCompany(name = "Acme"): Promise<string> {
  const res = await call("/v1/admin/companies", { key: ADMIN_TOKEN, body: { name } });
  if (res.status !== 201) throw new Error(`create company: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.company.id as string;
}

export async function createKey(companyId: string, scopes: Scope[] = ALL_SCOPES): Promise<{ id: string; key: string }> {
  const res = await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes } });
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.api_key.id, key: res.body.api_key.key };
}

/** A fresh company with an all-scopes key: every test gets its own tenant. */
export async function tenant(name = "Acme"): Promise<{ companyId: string; key: string; keyId: string }> {
  const companyId = await createCompany(name);
  const { id, key } = await createKey(companyId);
  return { companyId, key, keyId: id };
}

export async function provision(key: string, externalId: string): Promise<{ status: number; body: any }> {
  return call("/v1/idp/users", { key, body: { user: { external_id: externalId } } });
}

/** An independent TOTP implementation (the otpauth package) to produce codes as an authenticator app would. */
export function totpCode(secret: string, timestampMs: number = Date.now()): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 }).generate({
    timestamp: timestampMs,
  });
}

/** A company, a key, and an identity enrolled with TOTP. */
export async function enrolled(
  externalId = "mfa-user",
): Promise<{ key: string; companyId: string; keyId: string; secret: string; identityId: string }> {
  const t = await tenant();
  const created = await provision(t.key, externalId);
  const res = await call(`/v1/idp/otp?externalUserId=${encodeURIComponent(externalId)}`, {
    key: t.key,
    body: { otp: { issuer_name: "Acme Enterprise", account_name: "alexander@enterprise.com" } },
  });
  if (res.status !== 201) throw new Error(`enrol: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...t, secret: res.body.user.new_otp_secret, identityId: created.body.user.id };
}

export async function verifyCode(
  key: string,
  externalId: string,
  code: unknown,
  context?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  return call("/v1/idp/otp/verify", { key, body: { otp: { id: externalId, code }, ...(context ? { context } : {}) } });
}

/** Audit events of the caller's company, all pages; waits up to `waitMs` for at least `atLeast` (hot-path events ship from the alarm). */
export async function auditEvents(key: string, query = "", atLeast = 0, waitMs = 10_000): Promise<any[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const events: any[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: any } = await call(`/v1/audit/events?limit=200${query}${cursor ? `&cursor=${cursor}` : ""}`, {
        key,
      });
      events.push(...res.body.events);
      cursor = res.body.next_cursor;
    } while (cursor);
    if (events.length >= atLeast || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A verified session for an enrolled identity: verify with the next unused TOTP step. */
export async function openSession(
  key: string,
  externalId: string,
  secret: string,
  stepOffset = 0,
): Promise<{ id: string; token: string; expires_at: string }> {
  const res = await verifyCode(key, externalId, totpCode(secret, Date.now() + stepOffset * 30_000));
  if (res.status !== 200) throw new Error(`verify: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.session;
}

export async function introspect(key: string, token: string, consistency?: "strong" | "eventual"): Promise<any> {
  const res = await call("/v1/idp/sessions/introspect", {
    key,
    body: { session: { token }, ...(consistency ? { consistency } : {}) },
  });
  if (res.status !== 200) throw new Error(`introspect: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
