import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/config/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** schema.sql, read by vitest.config.ts, for the migrations-equal-schema test. */
      TEST_SCHEMA_SQL: string;
      /** wrangler.toml as deployed, for the tests that hold the code to its settings. */
      TEST_WRANGLER_TOML: string;
      /** migrations/*.sql, read by vitest.config.ts and applied by test/setup/apply-migrations.ts. */
      TEST_MIGRATIONS: D1Migration[];
      /** An empty database the migrations-equal-schema test builds from schema.sql. */
      SCHEMA_SQL_DB: D1Database;
      /** The identity providers' stand-ins (test/stand-ins/providers.ts). */
      STAND_IN_URL: string;
    }
  }
}
