/**
 * Threat: some input nobody thought of (a lone surrogate, a 3,000-level nesting, a number past
 * double range, a `__proto__` key, a header in the wrong form, a stray `%` in the query) reaches
 * a handler that was not written for it and produces a 500, a stack trace, a success with the
 * wrong shape, or an audit event that no longer verifies. Property: for random requests against
 * every route the router serves, each answer is a 4xx in the one envelope (its code in the
 * registry, its status the code's) or a success in the route's documented shape; never a 5xx.
 * Afterwards every company the run touched still verifies its audit chains.
 *
 * Seeded and bounded. fast-check prints the seed and the shrunk counterexample on failure;
 * put that seed in the shard's file to replay the run exactly. The run is split into shards,
 * one file each: the Vitest pool's SELF.fetch slows down with every request a workerd instance
 * has served (cloudflare/workers-sdk#15446), and each file gets a fresh instance.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { expect } from "vitest";
import { buildApp } from "../../src/app";
import { ERRORS } from "../../src/errors";
import { ADMIN_TOKEN, ALL_SCOPES, call, createKey, enrolled, openSession, provision } from "../helpers";

/** The base seed; shard N runs FUZZ_SEED + N. */
export const FUZZ_SEED = 20261123;

type Zod = { safeParse: (value: unknown) => { success: boolean; error?: unknown } };

/** The routes the router serves, each with the response schemas its OpenAPI definition declares. */
function servedRoutes(): { method: string; path: string; responses: Map<number, Zod> }[] {
  const app = buildApp();
  const definitions = new Map<string, Map<number, Zod>>();
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const { method, path, responses } = definition.route;
    const schemas = new Map<number, Zod>();
    for (const [status, response] of Object.entries(responses)) {
      const schema = (response as { content?: Record<string, { schema?: Zod }> }).content?.["application/json"]?.schema;
      if (schema && typeof schema.safeParse === "function") schemas.set(Number(status), schema);
    }
    definitions.set(`${method.toUpperCase()} ${path}`, schemas);
  }
  const seen = new Set<string>();
  const routes: { method: string; path: string; responses: Map<number, Zod> }[] = [];
  for (const route of app.routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    const id = `${route.method} ${route.path}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const openapiPath = route.path.replaceAll(/:([A-Za-z0-9_]+)/g, "{$1}");
    routes.push({ ...route, responses: definitions.get(`${route.method} ${openapiPath}`) ?? new Map() });
  }
  return routes;
}

/** Strings that break things: lone surrogates, controls, bidi, huge, key-shaped, path and SQL tricks. */
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  // Ordinary text with a lone surrogate somewhere in it: the class of input that broke the audit chain.
  fc
    .tuple(fc.string({ maxLength: 12 }), loneSurrogate, fc.string({ maxLength: 12 }))
    .map(([a, b, c]) => a + b + c),
  fc.string({ unit: loneSurrogate, minLength: 1, maxLength: 3 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udc00y",
    "\ufffd\ufffd\ufffd",
    "\u202e\u2028",
    "../../etc/passwd",
    "'; DROP TABLE identities; --",
    "%ED%A0%80",
    "%",
    "__proto__",
    "constructor",
    "hld_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "hst_e30.e30",
    "idn_01J00000000000000000000000",
    "123456",
    "ABCD-1234",
    "1.1.1.1",
    "::ffff:127.0.0.1",
    "9".repeat(400),
  ),
  fc.string({ maxLength: 4 }).map((s) => s.repeat(300)),
);

/** JSON leaves, with the numbers JSON allows but doubles do not hold. */
const leaf = fc.oneof(
  nastyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1),
);

/** A JSON text: random values, route-shaped objects with bad leaves, deep nesting, `__proto__`, huge numbers. */
function jsonText(ids: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const value = fc.oneof(leaf, ids);
  const shaped = fc.oneof(
    fc.record({ user: fc.record({ external_id: value }) }),
    fc.record({ otp: fc.record({ id: value, code: value }, { requiredKeys: [] }) }),
    fc.record({ otp: fc.record({ issuer_name: value, account_name: value, confirm: value }, { requiredKeys: [] }) }),
    fc.record({ reason: value, incident_id: value }, { requiredKeys: [] }),
    fc.record({ session: fc.record({ token: value }), consistency: value }, { requiredKeys: [] }),
    fc.record({ title: value, severity: value }, { requiredKeys: [] }),
    fc.record({ name: value }),
    fc.record({ company_id: value, scopes: fc.array(value, { maxLength: 6 }), mode: value }, { requiredKeys: [] }),
    fc.record({ otp: fc.record({ id: value, code: value }), context: fc.record({ ip: value, ua: value }) }),
  );
  return fc.oneof(
    { weight: 4, arbitrary: shaped.map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{"__proto__": {"admin": true}, "user": {"external_id": "proto"}}',
        '{"user": {"external_id": "p", "__proto__": {"status": "disabled"}}}',
        '{"reason": "big", "incident_id": 1e400}',
        '{"user": {"external_id": "\\ud800"}}',
        '{"reason": "\\udfff\\ud800"}',
        '{"user": {"external_id": "dup"}, "user": {"external_id": "dup2"}}',
        '{"otp": {"id": "fuzz-mfa", "code": -0}}',
        "{",
        '{"a":',
        "\ufeff{}",
        "nul\u0000",
        "",
        "null",
        "[]",
        '"just a string"',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  );
}

/** A query string: known parameter names and random ones, values encoded properly or not. */
function queryText(ids: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const name = fc.oneof(
    fc.constantFrom(
      "externalUserId",
      "identity_id",
      "company_id",
      "status",
      "type",
      "since",
      "until",
      "limit",
      "cursor",
      "consistency",
    ),
    fc.string({ maxLength: 8 }),
  );
  const value = fc.oneof(
    ids.map(encodeURIComponent),
    nastyString.map((s) => encodeURIComponent(s.toWellFormed())),
    fc.constantFrom("%", "%ZZ", "%ED%A0%80", "%FF", "a+b", "%00", "2026-11-23T00:00:00Z", "-1", "1e9", "", "=="),
  );
  return fc
    .array(fc.tuple(name, value), { maxLength: 4 })
    .map((pairs) => pairs.map(([n, v]) => `${encodeURIComponent(n.toWellFormed())}=${v}`).join("&"));
}

/** Mostly `arbitrary`, sometimes a hostile value in its place. */
function good<T>(v: Values, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 2, arbitrary }, { weight: 1, arbitrary: v.hostile });
}

/** A request body for `route`: mostly its own shape with good or hostile leaves, sometimes anything. */
function bodyFor(route: string, v: Values): fc.Arbitrary<string> {
  const shapes: Record<string, fc.Arbitrary<unknown>> = {
    "POST /v1/idp/users": fc.record({ user: fc.record({ external_id: v.externalId }) }),
    "POST /v1/idp/otp": fc.record({
      otp: fc.record(
        { issuer_name: v.text, account_name: v.text, confirm: v.flag },
        { requiredKeys: ["issuer_name", "account_name"] },
      ),
    }),
    "POST /v1/idp/otp/verify": fc.record(
      {
        otp: fc.record({ id: v.externalId, code: v.code }),
        context: fc.record({ ip: v.ip, ua: v.text }, { requiredKeys: [] }),
      },
      { requiredKeys: ["otp"] },
    ),
    "POST /v1/idp/sessions/introspect": fc.record(
      {
        session: fc.record({ token: v.token }),
        consistency: fc.oneof(fc.constantFrom("strong", "eventual"), v.hostile),
      },
      { requiredKeys: ["session"] },
    ),
    "POST /v1/sentinel/incidents": fc.record(
      { title: v.text, severity: fc.oneof(fc.constantFrom("low", "critical"), v.hostile) },
      { requiredKeys: ["title"] },
    ),
    "POST /v1/admin/companies": fc.record({ name: v.text }),
    "POST /v1/sentinel/connectors": fc.record({
      type: good(v, fc.constant("okta")),
      name: v.text,
      base_url: v.oktaUrl,
      credentials: fc.record({ api_token: v.text }),
    }),
    "PUT /v1/sentinel/identity/:userId/links/:connectorId": fc.record({ provider_user_id: v.text }),
    "POST /v1/sentinel/discover": fc.record({
      sentinel: fc.record({
        id: v.identityId,
        context: fc.record(
          {
            ip: v.ip,
            ua: v.text,
            user_id: v.externalId,
            country: good(v, fc.constantFrom("FR", "AU", "US")),
            asn: good(v, fc.nat()),
            geo: good(
              v,
              fc.record({
                lat: fc.double({ min: -90, max: 90, noNaN: true }),
                lon: fc.double({ min: -180, max: 180, noNaN: true }),
              }),
            ),
          },
          { requiredKeys: ["ip", "ua"] },
        ),
      }),
    }),
    "PUT /v1/sentinel/policy": fc.record(
      {
        mode: good(v, fc.constantFrom("enforce", "monitor")),
        challenge_threshold: good(v, fc.double({ min: 0, max: 0.5, noNaN: true })),
        deny_threshold: good(v, fc.double({ min: 0.5, max: 1, noNaN: true })),
        allow_cidrs: good(v, fc.constantFrom([], ["10.0.0.0/8"], ["2001:db8::/32"])),
        deny_cidrs: good(v, fc.constantFrom([], ["203.0.113.0/24"])),
        deny_countries: good(v, fc.constantFrom([], ["KP"])),
        max_travel_kmh: good(v, fc.integer({ min: 1, max: 2000 })),
        weights: good(v, fc.constantFrom({}, { new_ip: 0.5 })),
      },
      { requiredKeys: [] },
    ),
    "POST /v1/sentinel/assessments/:id/feedback": fc.record({
      verdict: good(v, fc.constantFrom("legitimate", "fraudulent")),
    }),
    "POST /v1/admin/api-keys": fc.record(
      {
        company_id: v.companyId,
        scopes: fc.array(fc.oneof(fc.constantFrom(...ALL_SCOPES), v.hostile), { maxLength: 6 }),
        name: v.text,
        mode: fc.oneof(fc.constantFrom("live", "test"), v.hostile),
      },
      { requiredKeys: ["company_id", "scopes"] },
    ),
  };
  const action = fc.record({ reason: v.text, incident_id: v.incidentId }, { requiredKeys: [] });
  const shape = shapes[route] ?? (route.startsWith("POST /v1/sentinel/identity/") ? action : fc.constant({}));
  return fc.oneof(
    { weight: 5, arbitrary: shape.map((value) => JSON.stringify(value)) },
    { weight: 2, arbitrary: jsonText(v.id) },
  );
}

interface Values {
  id: fc.Arbitrary<string>;
  identityId: fc.Arbitrary<unknown>;
  hostile: fc.Arbitrary<unknown>;
  externalId: fc.Arbitrary<unknown>;
  text: fc.Arbitrary<unknown>;
  flag: fc.Arbitrary<unknown>;
  code: fc.Arbitrary<unknown>;
  ip: fc.Arbitrary<unknown>;
  token: fc.Arbitrary<unknown>;
  incidentId: fc.Arbitrary<unknown>;
  companyId: fc.Arbitrary<unknown>;
  /** The Okta stand-in's URL, or something hostile. */
  oktaUrl: fc.Arbitrary<unknown>;
}

/** One shard: `runs` random requests from `seed`, then the coverage and audit checks. */
export async function fuzzEveryRoute(seed: number, runs: number): Promise<void> {
  const routes = servedRoutes();
  expect(routes.length).toBeGreaterThan(15);

  // Real objects, so that random requests reach the handlers' deeper branches.
  const mfa = await enrolled("fuzz-mfa");
  const { key, companyId } = mfa;
  const spareKey = await createKey(companyId, ALL_SCOPES);
  const readOnly = await createKey(companyId, ["idp:read"]);
  const other = await provision(key, "fuzz-other");
  const session = await openSession(key, "fuzz-mfa", mfa.secret);
  const incident = (await call("/v1/sentinel/incidents", { key, body: { title: "fuzz" } })).body.incident;
  const assessed = await call("/v1/sentinel/discover", {
    key,
    body: { sentinel: { id: mfa.identityId, context: { ip: "1.1.1.1", ua: "Fuzz/1.0" } } },
  });
  const assessmentId: string = assessed.body.assessment_id;
  await expect
    .poll(async () => (await call(`/v1/sentinel/assessments/${assessmentId}`, { key })).status, { timeout: 10_000 })
    .toBe(200);
  // A connector to the Okta stand-in, so actions' deliveries and the connector routes do real work.
  const connector = (
    await call("/v1/sentinel/connectors", {
      key,
      body: {
        type: "okta",
        name: "fuzz",
        base_url: `${env.STAND_IN_URL}/t/fuzz${seed}/okta`,
        credentials: { api_token: "00okta-api-token-3c2b1a" },
      },
    })
  ).body.connector;
  const identityIds = [mfa.identityId, other.body.user.id];
  /** Ids of the kind the path names, so requests get past "not found" to the handler's work. */
  const realIdsFor = (path: string): string[] => {
    if (path.includes(":connectorId")) return [...identityIds, connector.id];
    if (path.includes(":userId")) return identityIds;
    if (path.startsWith("/v1/sentinel/connectors/")) return [connector.id];
    if (path.startsWith("/v1/sentinel/incidents/")) return [incident.id];
    if (path.startsWith("/v1/idp/sessions/")) return [session.id];
    if (path.startsWith("/v1/admin/api-keys/")) return [spareKey.id];
    if (path.startsWith("/v1/sentinel/assessments/")) return [assessmentId];
    return [companyId];
  };
  const externalIds = ["fuzz-mfa", "fuzz-other"];
  const ids = fc.constantFrom(...identityIds, ...externalIds, session.id, incident.id, spareKey.id, companyId);
  const hostile = fc.oneof({ weight: 3, arbitrary: nastyString }, leaf, fc.jsonValue({ maxDepth: 2 }));
  const goodValue = <T>(arbitrary: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 2, arbitrary }, { weight: 1, arbitrary: hostile as fc.Arbitrary<unknown> });
  const v: Values = {
    id: ids,
    identityId: goodValue(fc.constantFrom(...identityIds)),
    hostile,
    externalId: goodValue(fc.oneof(fc.constantFrom(...externalIds), fc.string({ minLength: 1, maxLength: 30 }))),
    text: goodValue(fc.string({ minLength: 1, maxLength: 40 })),
    flag: goodValue(fc.boolean()),
    code: goodValue(fc.oneof(fc.stringMatching(/^\d{6}$/), fc.stringMatching(/^[A-Z]{4}-?\d{4}$/))),
    ip: goodValue(fc.oneof(fc.ipV4(), fc.ipV6())),
    token: goodValue(fc.constant(session.token)),
    incidentId: goodValue(fc.constantFrom(incident.id, "JIRA-1")),
    companyId: goodValue(fc.constant(companyId)),
    oktaUrl: goodValue(fc.constant(`${env.STAND_IN_URL}/t/fuzz${seed}/okta`)),
  };
  const companies = new Set<string>([companyId]);
  const outcomes = new Map<string, number>();

  const request = fc.constantFrom(...routes).chain((route) =>
    fc.record({
      route: fc.constant(route),
      params: fc.array(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...realIdsFor(route.path)) },
          { weight: 1, arbitrary: nastyString.map((s) => encodeURIComponent(s.toWellFormed())) },
          { weight: 1, arbitrary: fc.constantFrom("%ED%A0%80", "%", "..", "%2F") },
        ),
        { minLength: 3, maxLength: 3 },
      ),
      query: fc.oneof(
        {
          weight: 3,
          arbitrary: v.externalId.map(
            (id) => `externalUserId=${typeof id === "string" ? encodeURIComponent(id.toWellFormed()) : String(id)}`,
          ),
        },
        { weight: 2, arbitrary: queryText(ids) },
      ),
      body: fc.option(bodyFor(`${route.method} ${route.path}`, v), { nil: undefined, freq: 8 }),
      authorization: fc.oneof(
        {
          weight: 6,
          arbitrary: fc.constant(route.path.startsWith("/v1/admin/") ? `Bearer ${ADMIN_TOKEN}` : `Bearer ${key}`),
        },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            `Bearer ${readOnly.key}`,
            `Bearer ${ADMIN_TOKEN}`,
            `Bearer ${key}`,
            "Bearer hld_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            `Basic ${btoa("a:b")}`,
            "Bearer",
            "",
            `bearer  ${key}  `,
          ),
        },
      ),
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(undefined, "application/json", "text/plain;charset=UTF-8") },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "application/merge-patch+json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin1",
            "garbage/",
          ),
        },
      ),
      extraHeaders: fc.dictionary(
        fc.constantFrom("x-forwarded-for", "cf-connecting-ip", "x-request-id", "accept", "origin"),
        fc.constantFrom("1.1.1.1", "::1", "", "99999999999", "-1", "x".repeat(200), "text/html"),
        { maxKeys: 2 },
      ),
    }),
  );

  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      let param = 0;
      const path = r.route.path.replaceAll(/:[A-Za-z0-9_]+/g, () => r.params[param++] ?? "x");
      const headers: Record<string, string> = { ...r.extraHeaders };
      if (r.authorization !== "") headers.authorization = r.authorization;
      if (r.contentType !== undefined) headers["content-type"] = r.contentType;
      const withBody = r.route.method !== "GET" && r.route.method !== "DELETE" && r.body !== undefined;
      const res = await call(`${path}${r.query ? `?${r.query}` : ""}`, {
        method: r.route.method,
        rawBody: withBody ? r.body : undefined,
        headers,
      });
      const where = `${r.route.method} ${path} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
      const outcome = `${res.status < 300 ? "2xx" : res.body?.code} ${r.route.method} ${r.route.path}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);

      expect(res.status, where).toBeLessThan(500);
      expect(res.headers.get("cache-control"), where).toBe("no-store");
      expect(res.headers.get("x-request-id"), where).toMatch(/^req_/);
      if (res.status >= 400) {
        expect(res.body, where).toMatchObject({ error: expect.any(String), code: expect.any(String) });
        const registered = ERRORS[res.body.code as keyof typeof ERRORS];
        expect(registered, where).toBeDefined();
        expect(registered?.status, where).toBe(res.status);
        expect(JSON.stringify(res.body), where).not.toMatch(/at .*\.ts|SQLITE|stack/i);
        // The route's OpenAPI document lists this status with this code, its extra fields typed.
        const documented = r.route.responses.get(res.status);
        expect(documented, `${where}: error status not documented for the route`).toBeDefined();
        const parsed = documented?.safeParse(res.body);
        expect(parsed?.success, `${where}: code or fields not as documented: ${JSON.stringify(parsed?.error)}`).toBe(
          true,
        );
      } else {
        expect(res.status, where).toBeGreaterThanOrEqual(200);
        const schema = r.route.responses.get(res.status);
        expect(schema, `${where}: status not documented`).toBeDefined();
        const parsed = schema?.safeParse(res.body);
        expect(parsed?.success, `${where}: ${JSON.stringify(parsed?.error)}`).toBe(true);
        if (r.route.method === "POST" && r.route.path === "/v1/admin/companies") companies.add(res.body.company.id);
      }
    }),
    { seed, numRuns: runs, endOnFailure: true },
  );

  // The run reached the handlers, not just the front door: successes on most routes.
  const succeeded = new Set([...outcomes.keys()].filter((o) => o.startsWith("2xx")).map((o) => o.slice(4)));
  console.log(`fuzz seed ${seed}: ${runs} requests, successes on ${succeeded.size} of ${routes.length} routes`);
  expect(succeeded.size).toBeGreaterThanOrEqual(routes.length * 0.55);

  // Every chain of every company the run touched still verifies.
  for (const company of companies) {
    const auditor = await createKey(company, ["audit:read"]);
    const verify = await call("/v1/audit/verify", { key: auditor.key });
    expect(verify.body, company).toMatchObject({ ok: true, broken_count: 0 });
  }
}
