import { importPKCS8, SignJWT } from "jose";
import {
  type ConnectorType,
  type DeliveredAction,
  GOOGLE_SCOPES,
  GRAPH_SCOPE,
  planCalls,
  resolvedTokenUrl,
  verdictOf,
} from "./providers";

/** A connector's credentials, opened; they live only in memory while a delivery runs. */
export type ConnectorCredentials =
  | { tenant_id: string; client_id: string; client_secret: string }
  | { api_token: string }
  | { client_email: string; private_key: string; subject: string };

export interface OpenConnector {
  id: string;
  type: ConnectorType;
  baseUrl: string;
  tokenUrl: string | null;
  credentials: ConnectorCredentials;
}

/**
 * One try's end: `delivered`, `retry` (429, 5xx, a timeout or a network error: try again
 * later) or `failed` (a final 4xx). `error` says what happened in words and never carries a
 * credential, a token or a provider's body: only the status, the call and the provider's error
 * code when it gives one.
 */
export type TryOutcome = { status: "delivered" } | { status: "retry" | "failed"; error: string };

/** Provider tokens per isolate, by connector id, until a minute before they expire. */
const tokens = new Map<string, { token: string; expiresAtMs: number }>();

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** `fetch` (or the given one) that gives up after `timeoutMs`. */
function timedFetch(options: { timeoutMs: number; fetch?: Fetch }): Fetch {
  const send: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  return (input, init) => send(input, { ...init, signal: AbortSignal.timeout(options.timeoutMs) });
}

/** Sends `action`'s calls for `userKey` in order; one token refresh on a 401/403. */
export async function deliverOnce(
  connector: OpenConnector,
  action: DeliveredAction,
  userKey: string,
  nowMs: number,
  options: { timeoutMs: number; fetch?: Fetch },
): Promise<TryOutcome> {
  const timed = timedFetch(options);
  for (const call of planCalls(connector.type, action, userKey)) {
    const label = `${call.method} ${call.path}`;
    let refreshed = false;
    for (;;) {
      let authorization: string;
      try {
        authorization = await authorizationFor(connector, nowMs, timed, refreshed);
      } catch (error) {
        return tokenFailure(error);
      }
      let response: Response;
      try {
        response = await timed(`${connector.baseUrl}${call.path}`, {
          method: call.method,
          headers: {
            authorization,
            accept: "application/json",
            ...(call.body ? { "content-type": "application/json" } : {}),
          },
          ...(call.body ? { body: JSON.stringify(call.body) } : {}),
        });
      } catch (error) {
        return { status: "retry", error: `${label}: ${networkError(error)}` };
      }
      const code = await providerErrorCode(response);
      const verdict = verdictOf(response.status);
      if (verdict === "ok") break;
      if (verdict === "refresh" && !refreshed && connector.type !== "okta") {
        tokens.delete(connector.id);
        refreshed = true;
        continue;
      }
      const error = `${label}: HTTP ${response.status}${code ? ` (${code})` : ""}`;
      return { status: verdict === "retry" ? "retry" : "failed", error };
    }
  }
  return { status: "delivered" };
}

/**
 * Checks the credentials (POST /connectors/:id/test): gets a token, and for Okta, whose token
 * is the credential, makes one harmless read. Answers what the provider said.
 */
export async function testConnector(
  connector: OpenConnector,
  nowMs: number,
  options: { timeoutMs: number; fetch?: Fetch },
): Promise<{ ok: boolean; detail: string }> {
  const timed = timedFetch(options);
  try {
    const authorization = await authorizationFor(connector, nowMs, timed, true);
    if (connector.type !== "okta") return { ok: true, detail: "The token endpoint issued a token." };
    const response = await timed(`${connector.baseUrl}/api/v1/users?limit=1`, {
      method: "GET",
      headers: { authorization, accept: "application/json" },
    });
    const code = await providerErrorCode(response);
    return response.ok
      ? { ok: true, detail: "Okta answered a read of one user." }
      : { ok: false, detail: `GET /api/v1/users?limit=1: HTTP ${response.status}${code ? ` (${code})` : ""}` };
  } catch (error) {
    if (error instanceof TokenError) return { ok: false, detail: error.message };
    return { ok: false, detail: networkError(error) };
  }
}

class TokenError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

function tokenFailure(error: unknown): TryOutcome {
  if (error instanceof TokenError) return { status: error.retry ? "retry" : "failed", error: error.message };
  return { status: "retry", error: `token: ${networkError(error)}` };
}

async function authorizationFor(connector: OpenConnector, nowMs: number, send: Fetch, fresh: boolean): Promise<string> {
  const { credentials } = connector;
  if ("api_token" in credentials) return `SSWS ${credentials.api_token}`;
  const cached = tokens.get(connector.id);
  if (!fresh && cached && cached.expiresAtMs > nowMs) return `Bearer ${cached.token}`;
  if (!connector.tokenUrl) throw new TokenError("token: the connector has no token URL", false);
  let form: URLSearchParams;
  let tokenUrl: string;
  if ("client_secret" in credentials) {
    tokenUrl = resolvedTokenUrl(connector.tokenUrl, credentials.tenant_id);
    form = new URLSearchParams({
      client_id: credentials.client_id,
      client_secret: credentials.client_secret,
      scope: GRAPH_SCOPE,
      grant_type: "client_credentials",
    });
  } else {
    tokenUrl = connector.tokenUrl;
    form = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: await googleAssertion(credentials, tokenUrl, nowMs),
    });
  }
  let response: Response;
  try {
    response = await send(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form.toString(),
    });
  } catch (error) {
    throw new TokenError(`token: ${networkError(error)}`, true);
  }
  if (!response.ok) {
    const code = await providerErrorCode(response);
    const verdict = verdictOf(response.status);
    throw new TokenError(`token: HTTP ${response.status}${code ? ` (${code})` : ""}`, verdict === "retry");
  }
  const body = (await response.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown } | null;
  if (!body || typeof body.access_token !== "string" || body.access_token === "") {
    throw new TokenError("token: the answer carried no access_token", true);
  }
  const lifetimeS = typeof body.expires_in === "number" ? body.expires_in : 3600;
  tokens.set(connector.id, { token: body.access_token, expiresAtMs: nowMs + Math.max(0, lifetimeS - 60) * 1000 });
  return `Bearer ${body.access_token}`;
}

/** The service account's signed assertion (RS256): iss, sub, scope, aud, iat, exp = iat + 1 h. */
async function googleAssertion(
  credentials: { client_email: string; private_key: string; subject: string },
  tokenUrl: string,
  nowMs: number,
): Promise<string> {
  let key: CryptoKey;
  try {
    key = await importPKCS8(credentials.private_key, "RS256");
  } catch {
    throw new TokenError("token: the service account's private key is not an RSA key in PKCS#8 PEM", false);
  }
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ scope: GOOGLE_SCOPES })
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(credentials.client_email)
    .setSubject(credentials.subject)
    .setAudience(tokenUrl)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .sign(key);
}

/** The provider's error code (Graph `error.code`, Okta `errorCode`, OAuth `error`), sanitized, or null. */
async function providerErrorCode(response: Response): Promise<string | null> {
  if (response.ok) {
    await response.body?.cancel();
    return null;
  }
  const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  const candidates = [
    (body?.error as { code?: unknown } | undefined)?.code,
    body?.errorCode,
    body?.error,
    (body?.error as { status?: unknown } | undefined)?.status,
  ];
  for (const candidate of candidates) {
    if (typeof candidate === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(candidate)) return candidate;
  }
  return null;
}

function networkError(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "timed out";
  return "network error";
}
