/**
 * What the Worker logs: every line one JSON object (Workers Logs indexes its fields), with the
 * request id when a request caused it, and never a key, token, code or secret. Lines are caught
 * from the isolate the Worker runs in, while a flow that logs runs through it.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../src/app";
import { ADMIN_TOKEN, enrolled, introspect, openSession, totpCode, verifyCode } from "../helpers";

const lines: unknown[][] = [];

beforeEach(() => {
  lines.length = 0;
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args);
    });
  }
});
afterEach(() => vi.restoreAllMocks());

describe("log lines", () => {
  it("are single JSON objects with a level and the request id, holding no secret", async () => {
    const { key, secret } = await enrolled("logged");
    const session = await openSession(key, "logged", secret);
    expect((await introspect(key, session.token)).active).toBe(true);
    const wrongCode = totpCode(secret, Date.now() + 90_000);
    expect((await verifyCode(key, "logged", wrongCode)).status).toBe(401);

    // Two requests that must log: an unexpected failure (no D1) and a limiter that errors
    // (the request goes on, the failure is logged).
    const app = buildApp();
    const failed = await app.fetch(
      new Request("https://idp.test/v1/admin/api-keys", {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ company_id: "cmp_x", scopes: ["idp:read"] }),
      }),
      { ...env, DB: undefined },
    );
    expect(failed.status).toBe(500);
    const unlimited = await app.fetch(
      new Request("https://idp.test/v1/idp/users?externalUserId=logged", {
        headers: { authorization: `Bearer ${key}` },
      }),
      { ...env, API_KEY_LIMIT: undefined },
    );
    expect(unlimited.status).toBe(200);

    const requestIds = [failed.headers.get("x-request-id"), unlimited.headers.get("x-request-id")];
    const parsed = lines.map((args) => {
      expect(args).toHaveLength(1);
      expect(typeof args[0]).toBe("string");
      const line = JSON.parse(args[0] as string) as Record<string, unknown>;
      expect(["debug", "info", "warn", "error"]).toContain(line.level);
      return line;
    });
    for (const id of requestIds) expect(parsed.some((line) => line.request_id === id)).toBe(true);

    const secrets = [
      key,
      secret,
      session.token,
      wrongCode,
      ADMIN_TOKEN,
      env.TOTP_ENCRYPTION_KEYS,
      env.BACKUP_CODE_PEPPER,
      env.SESSION_SIGNING_KEY,
      ...env.TOTP_ENCRYPTION_KEYS.split(",").map((k) => k.split(":")[1] as string),
      ...env.SESSION_SIGNING_KEY.split(",").map((k) => k.split(":")[1] as string),
    ];
    const text = lines.map((args) => String(args[0])).join("\n");
    for (const value of secrets) expect(text).not.toContain(value);
  });
});
