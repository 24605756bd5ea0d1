import type { Env as WorkerEnv } from "../src/config/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** schema.sql, read by vitest.config.ts and applied by test/setup/apply-schema.ts. */
      TEST_SCHEMA_SQL: string;
    }
  }
}
