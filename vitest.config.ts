import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

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

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ...TEST_BINDINGS,
          TEST_SCHEMA_SQL: readFileSync(new URL("./schema.sql", import.meta.url), "utf8"),
          TEST_MIGRATIONS: migrations,
        },
        d1Databases: { SCHEMA_SQL_DB: "schema-sql-check" },
      },
    }),
  ],
  test: {
    setupFiles: ["./test/setup/apply-migrations.ts"],
    globalSetup: ["./test/setup/stand-ins.ts"],
    testTimeout: 30_000,
  },
});
