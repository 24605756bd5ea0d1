/**
 * Local stand-ins of the three identity providers' APIs the connectors call (Microsoft Graph
 * with the Microsoft identity platform's token endpoint, Okta's Users API, Google's Admin SDK
 * Directory API with Google's OAuth token endpoint), served by one Node HTTP server that the
 * test run starts (vitest's globalSetup). Each checks every request exactly as the provider
 * documents it (method, path, headers, body, token or signed assertion) and answers 400
 * `stand-in: <what was wrong>` otherwise, so a test that sees `delivered` saw correct calls.
 *
 * Every path starts with `/t/<tenant>/`: each test names its own tenant, so test files running
 * at once never share state. Under a tenant:
 * - `/entra/...` Graph, `/login/{tenantId}/oauth2/v2.0/token` its token endpoint;
 * - `/okta/...` an Okta organization;
 * - `/google/...` the Directory API, `/google-token` the OAuth token endpoint.
 * Control: `PUT /t/<tenant>/__script {"api": [500, 200, "hang"], "token": [401]}` queues the
 * next answers (a status, or "hang": never answer); `GET /t/<tenant>/__log` lists what came in,
 * each with the problem found, or null.
 */
import { createPublicKey, createVerify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { EXPECTED, GOOGLE_SCOPES, GRAPH_SCOPE, type StandInRequest as Logged, type Scripted } from "./expected";

interface Tenant {
  script: { api: Scripted[]; token: Scripted[] };
  log: Logged[];
  issued: Set<string>;
  googlePublicKeyPem: string | null;
}

const tenants = new Map<string, Tenant>();
const tenant = (name: string): Tenant => {
  let t = tenants.get(name);
  if (!t) {
    t = { script: { api: [], token: [] }, log: [], issued: new Set(), googlePublicKeyPem: null };
    tenants.set(name, t);
  }
  return t;
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined || status === 204) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const exactly = (value: unknown, expected: Record<string, unknown>): string | null => {
  const a = JSON.stringify(value);
  const b = JSON.stringify(expected);
  return a === b ? null : `body ${a} is not ${b}`;
};

/** Checks a form-encoded token request; answers the problem or null. */
function formProblem(contentType: string | null, raw: string, expected: Record<string, (v: string) => boolean>) {
  if (contentType !== "application/x-www-form-urlencoded") return `content-type ${contentType}`;
  const form = new URLSearchParams(raw);
  const keys = [...form.keys()].sort();
  const wanted = Object.keys(expected).sort();
  if (JSON.stringify(keys) !== JSON.stringify(wanted))
    return `form fields ${keys.join(",")} are not ${wanted.join(",")}`;
  for (const [name, check] of Object.entries(expected)) {
    if (!check(form.get(name) ?? "")) return `form field ${name} is wrong`;
  }
  return null;
}

function base64urlJson(part: string): Record<string, unknown> | null {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return null;
  }
}

/** Google's JWT bearer grant: an RS256 assertion by the service account, for the two scopes, to this URL. */
function assertionProblem(t: Tenant, assertion: string, audience: string): string | null {
  const parts = assertion.split(".");
  if (parts.length !== 3) return "assertion is not a JWT";
  const [h, p, s] = parts as [string, string, string];
  const header = base64urlJson(h);
  const claims = base64urlJson(p);
  if (!header || !claims) return "assertion is not JSON";
  if (header.alg !== "RS256") return `assertion alg ${String(header.alg)}`;
  if (!t.googlePublicKeyPem) return "no service account key registered for this tenant";
  const verifier = createVerify("RSA-SHA256");
  verifier.update(`${h}.${p}`);
  if (!verifier.verify(createPublicKey(t.googlePublicKeyPem), Buffer.from(s, "base64url"))) {
    return "assertion signature does not verify";
  }
  if (claims.iss !== EXPECTED.google.clientEmail) return "assertion iss is not the client email";
  if (claims.sub !== EXPECTED.google.subject) return "assertion sub is not the admin";
  if (claims.scope !== GOOGLE_SCOPES) return `assertion scope ${String(claims.scope)}`;
  if (claims.aud !== audience) return `assertion aud ${String(claims.aud)} is not ${audience}`;
  const iat = Number(claims.iat);
  const exp = Number(claims.exp);
  const now = Date.now() / 1000;
  if (!Number.isInteger(iat) || !Number.isInteger(exp)) return "assertion iat/exp missing";
  if (exp <= iat || exp - iat > 3600) return "assertion exp is not within an hour of iat";
  if (Math.abs(iat - now) > 300) return "assertion iat is not now";
  return null;
}

async function handle(req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
  const url = new URL(req.url ?? "/", origin);
  const match = /^\/t\/([A-Za-z0-9_-]+)(\/.*)$/.exec(url.pathname);
  if (!match) return send(res, 404, { error: "stand-in: no tenant in the path" });
  const [, name, rest] = match as unknown as [string, string, string];
  const t = tenant(name);
  const raw = await readBody(req);
  if (rest === "/__script" && req.method === "PUT") {
    const script = JSON.parse(raw) as { api?: Scripted[]; token?: Scripted[]; google_public_key?: string };
    t.script.api.push(...(script.api ?? []));
    t.script.token.push(...(script.token ?? []));
    if (script.google_public_key) t.googlePublicKeyPem = script.google_public_key;
    return send(res, 204);
  }
  if (rest === "/__log" && req.method === "GET") return send(res, 200, { requests: t.log });

  const method = req.method ?? "GET";
  const path = `${rest}${url.search}`;
  const authorization = req.headers.authorization ?? null;
  const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim() || null;
  let body: unknown = raw;
  if (contentType === "application/json" && raw !== "") {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const selfUrl = `${origin}/t/${name}`;
  let provider: Logged["provider"];
  let kind: Logged["kind"] = "api";
  let problem: string | null = null;
  let ok: { status: number; body?: unknown } = { status: 200, body: {} };

  const bearer = () => {
    const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : null;
    return token && t.issued.has(token)
      ? null
      : `authorization ${authorization === null ? "missing" : "is not an issued token"}`;
  };
  const noBody = () => (raw === "" ? null : "a body where none is sent");
  const jsonBody = (expected: Record<string, unknown>) =>
    contentType !== "application/json" ? `content-type ${contentType}` : exactly(body, expected);

  const entraToken = /^\/login\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(rest);
  const graphUser = /^\/entra\/v1\.0\/users\/([^/]+)(\/revokeSignInSessions)?$/.exec(rest);
  const oktaUser = /^\/okta\/api\/v1\/users\/([^/]+)\/(lifecycle\/suspend|lifecycle\/unsuspend|sessions)$/.exec(rest);
  const googleUser = /^\/google\/admin\/directory\/v1\/users\/([^/]+)(\/signOut)?$/.exec(rest);
  if (entraToken) {
    provider = "entra";
    kind = "token";
    problem =
      method !== "POST"
        ? `method ${method}`
        : decodeURIComponent(entraToken[1] ?? "") !== EXPECTED.entra.tenantId
          ? "tenant id in the path"
          : formProblem(contentType, raw, {
              client_id: (v) => v === EXPECTED.entra.clientId,
              client_secret: (v) => v === EXPECTED.entra.clientSecret,
              scope: (v) => v === GRAPH_SCOPE,
              grant_type: (v) => v === "client_credentials",
            });
    const token = `graph-token-${t.issued.size + 1}-${name}`;
    ok = { status: 200, body: { token_type: "Bearer", expires_in: 3599, access_token: token } };
    if (!problem) t.issued.add(token);
  } else if (graphUser) {
    provider = "entra";
    problem = bearer();
    if (!problem && graphUser[2]) {
      problem = method !== "POST" ? `method ${method}` : noBody();
      ok = {
        status: 200,
        body: { "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", value: true },
      };
    } else if (!problem) {
      problem =
        method !== "PATCH"
          ? `method ${method}`
          : typeof (body as { accountEnabled?: unknown })?.accountEnabled === "boolean"
            ? jsonBody({ accountEnabled: (body as { accountEnabled: boolean }).accountEnabled })
            : `body ${JSON.stringify(body)} has no boolean accountEnabled`;
      ok = { status: 204 };
    }
  } else if (oktaUser) {
    provider = "okta";
    problem = authorization === `SSWS ${EXPECTED.okta.apiToken}` ? null : "authorization is not SSWS <api token>";
    if (!problem && oktaUser[2] === "sessions") {
      problem =
        method !== "DELETE"
          ? `method ${method}`
          : url.search !== "?oauthTokens=true"
            ? `query ${url.search}`
            : noBody();
      ok = { status: 204 };
    } else if (!problem) {
      problem = method !== "POST" ? `method ${method}` : url.search !== "" ? `query ${url.search}` : noBody();
      ok = { status: 200, body: {} };
    }
  } else if (rest === "/okta/api/v1/users" && url.search === "?limit=1") {
    provider = "okta";
    problem =
      authorization !== `SSWS ${EXPECTED.okta.apiToken}`
        ? "authorization is not SSWS <api token>"
        : method !== "GET"
          ? `method ${method}`
          : null;
    ok = { status: 200, body: [] };
  } else if (rest === "/google-token") {
    provider = "google";
    kind = "token";
    const assertion = new URLSearchParams(raw).get("assertion") ?? "";
    problem =
      method !== "POST"
        ? `method ${method}`
        : (formProblem(contentType, raw, {
            grant_type: (v) => v === "urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion: (v) => v !== "",
          }) ?? assertionProblem(t, assertion, `${selfUrl}/google-token`));
    const token = `ya29.google-token-${t.issued.size + 1}-${name}`;
    ok = { status: 200, body: { access_token: token, expires_in: 3599, token_type: "Bearer" } };
    if (!problem) t.issued.add(token);
  } else if (googleUser) {
    provider = "google";
    problem = bearer();
    if (!problem && googleUser[2]) {
      problem = method !== "POST" ? `method ${method}` : noBody();
      ok = { status: 204 };
    } else if (!problem) {
      problem =
        method !== "PUT"
          ? `method ${method}`
          : typeof (body as { suspended?: unknown })?.suspended === "boolean"
            ? jsonBody({ suspended: (body as { suspended: boolean }).suspended })
            : `body ${JSON.stringify(body)} has no boolean suspended`;
      ok = { status: 200, body: { primaryEmail: decodeURIComponent(googleUser[1] ?? "") } };
    }
  } else {
    return send(res, 404, { error: `stand-in: no such endpoint ${method} ${rest}` });
  }

  // A well-formed request with the wrong secret is the provider refusing it, not a malformed
  // call: Microsoft answers 401 invalid_client (AADSTS7000215), as a wrong secret does.
  if (problem === "form field client_secret is wrong") {
    t.log.push({ provider, kind, method, path, authorization, contentType, body, problem: null, answered: 401 });
    return send(res, 401, {
      error: "invalid_client",
      error_description: "AADSTS7000215: Invalid client secret provided.",
    });
  }
  const scripted = (kind === "token" ? t.script.token : t.script.api).shift();
  const entry: Logged = {
    provider,
    kind,
    method,
    path,
    authorization,
    contentType,
    body,
    problem,
    answered: problem ? 400 : (scripted ?? ok.status),
  };
  t.log.push(entry);
  if (problem) return send(res, 400, { error: "invalid_request", error_description: `stand-in: ${problem}` });
  if (scripted === "hang") return; // never answers; the client's timeout ends it
  if (typeof scripted === "number" && scripted !== ok.status) {
    // The shapes providers use for errors: Graph error.code, Okta errorCode, OAuth error.
    const codes: Record<number, string> = {
      401: "InvalidAuthenticationToken",
      403: "Forbidden",
      404: "NotFound",
      429: "TooManyRequests",
    };
    const code = codes[scripted] ?? (scripted >= 500 ? "ServiceUnavailable" : "BadRequest");
    return send(res, scripted, { error: { code }, errorCode: code });
  }
  return send(res, ok.status, ok.body);
}

export function startStandIns(port: number): Promise<() => Promise<void>> {
  const origin = `http://127.0.0.1:${port}`;
  const server = createServer((req, res) => {
    handle(req, res, origin).catch((error: unknown) => send(res, 500, { error: `stand-in crashed: ${String(error)}` }));
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () =>
      resolve(
        () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      ),
    );
  });
}
