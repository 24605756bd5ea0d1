import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";

// Tests run inside workerd against real D1, KV and Durable Objects (no fakes); the setup
// file applies the D1 migrations, as `npm run dev` does. schema.sql and a second database
// are there for the test that checks the migrations give exactly that schema.
// The identity providers' stand-ins (test/stand-ins) listen on a free port that globalSetup
// opens; the Worker reaches them over http, which only ALLOW_HTTP_CONNECTOR_URLS permits.
const standInPort: number =
  Number(process.env.STAND_IN_PORT) ||
  (await new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  }));
process.env.STAND_IN_PORT = String(standInPort);

// Every secret and setting is set here: a developer's .dev.vars must never decide what the tests see.
const TEST_BINDINGS = {
  MAX_FAILED_ATTEMPTS: "5",
  LOCKOUT_SECONDS: "900",
  MAX_TEMPORARY_LOCKOUTS: "3",
  SESSION_TTL_SECONDS: "43200",
  AUDIT_RETENTION_DAYS: "90",
  ASSESSMENT_RETENTION_DAYS: "90",
  ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
  TOTP_ENCRYPTION_KEYS:
    "t2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,t1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
  BACKUP_CODE_PEPPER: "cGVwcGVyLWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzISE=",
  SESSION_SIGNING_KEY: "s1:c2lnbmluZy1rZXktZm9yLXRlc3RzLW9ubHktMzJieXQ=",
  ALLOW_HTTP_CONNECTOR_URLS: "true",
  // A hanging provider times out in 1.5 s here (10 s in production).
  CONNECTOR_TIMEOUT_MS: "1500",
  STAND_IN_URL: `http://127.0.0.1:${standInPort}`,
};

const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);

// Rate limits: the main project lifts them (its files share one client address, "unknown",
// and send thousands of requests); test/limits runs alone with wrangler.toml's key-lookup limit
// as deployed and the per-key and per-IP limits lowered, so a test can reach them quickly.
type Limit = { namespace_id: string; simple: { limit: number; period: 10 | 60 } };
const deployed: Record<string, Limit> = Object.fromEntries(
  unstable_readConfig({ config: "./wrangler.toml" }).ratelimits.map((r) => [
    r.name,
    { namespace_id: r.namespace_id, simple: { limit: r.simple.limit, period: r.simple.period as 10 | 60 } },
  ]),
);
const withLimit = (name: string, limit: number, period: 10 | 60 = 10): Limit => ({
  namespace_id: deployed[name]?.namespace_id ?? name,
  simple: { limit, period },
});

function worker(ratelimits: Record<string, Limit>) {
  return cloudflareTest({
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      bindings: {
        ...TEST_BINDINGS,
        TEST_SCHEMA_SQL: readFileSync(new URL("./schema.sql", import.meta.url), "utf8"),
        TEST_WRANGLER_TOML: readFileSync(new URL("./wrangler.toml", import.meta.url), "utf8"),
        TEST_MIGRATIONS: migrations,
      },
      d1Databases: { SCHEMA_SQL_DB: "schema-sql-check" },
      ratelimits,
    },
  });
}

const shared = {
  setupFiles: ["./test/setup/apply-migrations.ts"],
  testTimeout: 30_000,
};

export default defineConfig({
  test: {
    globalSetup: ["./test/setup/stand-ins.ts"],
    projects: [
      {
        plugins: [
          worker(Object.fromEntries(Object.keys(deployed).map((name) => [name, withLimit(name, 1_000_000, 60)]))),
        ],
        test: { ...shared, name: "worker", include: ["test/**/*.test.ts"], exclude: ["test/limits/**"] },
      },
      {
        plugins: [
          worker({
            ...deployed,
            API_KEY_LIMIT: withLimit("API_KEY_LIMIT", 20),
            CLIENT_IP_LIMIT: withLimit("CLIENT_IP_LIMIT", 30),
          }),
        ],
        test: { ...shared, name: "limits", include: ["test/limits/**/*.test.ts"] },
      },
    ],
  },
});
