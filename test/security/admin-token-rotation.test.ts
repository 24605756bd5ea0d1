/**
 * Rotation of ADMIN_TOKEN without downtime: it holds comma-separated tokens, each accepted;
 * a token removed from it stops working at once; with none, the admin routes do not exist.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { adminTokens } from "../../src/http/admin-auth";

const app = buildApp();

async function listOutbox(adminToken: string | undefined, presented: string): Promise<number> {
  const res = await app.fetch(
    new Request("http://local/v1/admin/outbox", { headers: { authorization: `Bearer ${presented}` } }),
    { ...env, ADMIN_TOKEN: adminToken },
    { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
  );
  return res.status;
}

describe("ADMIN_TOKEN rotation", () => {
  const oldToken = "adm_old_0123456789abcdefghijklmnop";
  const newToken = "adm_new_qrstuvwxyz9876543210ABCDEF";

  it("accepts each of two tokens while both are configured", async () => {
    expect(await listOutbox(`${newToken},${oldToken}`, newToken)).toBe(200);
    expect(await listOutbox(`${newToken},${oldToken}`, oldToken)).toBe(200);
    expect(await listOutbox(`${newToken},${oldToken}`, "adm_wrong")).toBe(401);
  });

  it("refuses a token once it is removed", async () => {
    expect(await listOutbox(newToken, oldToken)).toBe(401);
    expect(await listOutbox(newToken, newToken)).toBe(200);
  });

  it("has no admin routes without a token, and ignores blanks", async () => {
    expect(await listOutbox(undefined, oldToken)).toBe(404);
    expect(await listOutbox(" , ", "")).toBe(404);
    expect(adminTokens(` ${newToken} ,, ${oldToken} `)).toEqual([newToken, oldToken]);
    // A prefix or the joined list is not a token.
    expect(await listOutbox(`${newToken},${oldToken}`, `${newToken},${oldToken}`)).toBe(401);
    expect(await listOutbox(newToken, newToken.slice(0, -1))).toBe(401);
  });
});
