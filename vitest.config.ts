import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Tests run inside workerd against real D1, KV and Durable Objects (no fakes); the setup
// file applies schema.sql, the same file `npm run dev` applies.
export const TEST_SECRETS = {
  ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
};

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ...TEST_SECRETS,
          TEST_SCHEMA_SQL: readFileSync(new URL("./schema.sql", import.meta.url), "utf8"),
        },
      },
    }),
  ],
  test: {
    setupFiles: ["./test/setup/apply-schema.ts"],
    testTimeout: 30_000,
  },
});
