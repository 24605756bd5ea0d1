import { env } from "cloudflare:workers";
import { beforeAll } from "vitest";

/** Applies schema.sql (idempotent) to the test D1 database, statement by statement. */
beforeAll(async () => {
  const sql = env.TEST_SCHEMA_SQL;
  const statements = sql
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(";")
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
  await env.DB.batch(statements.map((statement) => env.DB.prepare(statement)));
});
