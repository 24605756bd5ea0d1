import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { MiddlewareHandler } from "hono";
import { apiKeys } from "../db/schema";
import { randomString, sha256Hex } from "../domain/secrets";
import { ApiError } from "../errors";
import type { AppEnv, Caller, Scope } from "./context";
import { SCOPES } from "./context";
import { clientIp, enforceLimit } from "./rate-limits";

/**
 * API keys: `hld_live_` or `hld_test_` and 40 base62 characters (238 bits). Only the SHA-256
 * of a key is stored: a key has far too much entropy to be guessed from its hash, and a
 * fast hash keeps lookup one indexed read.
 *
 * The key check must not cost a D1 query on every request, so each isolate remembers what
 * it learnt about a key hash for `KEY_CACHE_TTL_MS`. A revoked key therefore stops working
 * at once in the isolate that revoked it and within that TTL everywhere else (the contract
 * allows 60 s).
 */
export const KEY_PATTERN = /^hld_(live|test)_[0-9A-Za-z]{32,128}$/;
const KEY_SHAPE = /hld_(live|test)_[0-9A-Za-z]{32}/;

/** Whether `text` holds something shaped like an API key anywhere in it. */
export function containsApiKey(text: string): boolean {
  return KEY_SHAPE.test(text);
}
const KEY_BODY_LENGTH = 40;
export const KEY_CACHE_TTL_MS = 30_000;
const UNKNOWN_KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_MAX = 10_000;

export function generateApiKey(mode: "live" | "test"): { key: string; prefix: string; hash: string } {
  const key = `hld_${mode}_${randomString(KEY_BODY_LENGTH)}`;
  return { key, prefix: key.slice(0, `hld_${mode}_`.length + 4), hash: sha256Hex(key) };
}

type CacheEntry = { caller: Caller | null; expiresAtMs: number };
const keyCache = new Map<string, CacheEntry>();

/** Forgets a key in this isolate (called on revocation). */
export function forgetKey(keyHash: string): void {
  keyCache.delete(keyHash);
}

/** What this isolate knows of a key hash: its caller, null (unknown or revoked), or undefined (ask D1). */
function cachedCaller(keyHash: string, nowMs: number): Caller | null | undefined {
  const cached = keyCache.get(keyHash);
  return cached && cached.expiresAtMs > nowMs ? cached.caller : undefined;
}

async function lookupCaller(db: D1Database, keyHash: string, nowMs: number): Promise<Caller | null> {
  const row = await drizzle(db)
    .select({ id: apiKeys.id, companyId: apiKeys.companyId, scopes: apiKeys.scopes })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .get();
  const caller: Caller | null = row
    ? { keyId: row.id, companyId: row.companyId, scopes: parseScopes(row.scopes) }
    : null;
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(keyHash, {
    caller,
    expiresAtMs: nowMs + (caller ? KEY_CACHE_TTL_MS : UNKNOWN_KEY_CACHE_TTL_MS),
  });
  return caller;
}

function parseScopes(json: string): Scope[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
}

/** Query parameter names that say "this is a credential": refused whatever their value. */
export const QUERY_KEY_NAMES = ["api_key", "apikey", "key", "access_token", "token"];

/**
 * Authenticates the Bearer key and checks `scope`. (A key in the query string never gets
 * here: the URL boundary refuses it for every route.) Nothing about the key is ever logged.
 * Rate limited (src/http/rate-limits.ts): a key this isolate does not know yet is looked up in
 * D1 only within the client IP's key-lookup limit; a known key's request counts against the
 * key's limit and the IP's.
 */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
    const key = match?.[1];
    if (!key || !KEY_PATTERN.test(key)) throw new ApiError("unauthorized");
    const keyHash = sha256Hex(key);
    const nowMs = Date.now();
    const ip = clientIp(c.req.raw);
    const requestId = c.get("requestId");
    let caller = cachedCaller(keyHash, nowMs);
    if (caller === undefined) {
      await enforceLimit(c.env, "key_lookup", ip, requestId);
      caller = await lookupCaller(c.env.DB, keyHash, nowMs);
    }
    if (!caller) throw new ApiError("unauthorized");
    await Promise.all([
      enforceLimit(c.env, "api_key", caller.keyId, requestId),
      enforceLimit(c.env, "client_ip", ip, requestId),
    ]);
    if (!caller.scopes.includes(scope)) throw new ApiError("insufficient_scope", { required_scope: scope });
    c.set("caller", caller);
    await next();
  };
}
