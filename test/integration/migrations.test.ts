import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

/** Every table, index and trigger of `db` by name, with its SQL normalized (comments and spacing). */
async function schemaOf(db: D1Database): Promise<Record<string, string>> {
  const { results } = await db
    .prepare(
      "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name",
    )
    .all<{ type: string; name: string; sql: string }>();
  return Object.fromEntries(
    results.map((row) => [
      `${row.type} ${row.name}`,
      row.sql
        .replace(/--[^\n]*/g, "")
        .replace(/\s+/g, " ")
        .replace(/\s*([(),])\s*/g, "$1")
        .replace(/IF NOT EXISTS /gi, "")
        .trim(),
    ]),
  );
}

/** schema.sql's statements, comments dropped, split on semicolons (a trigger's body kept whole to its END). */
function statements(sql: string): string[] {
  const parts = sql
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(";")
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
  const whole: string[] = [];
  for (const part of parts) {
    const open = whole.at(-1);
    if (open !== undefined && /\bCREATE TRIGGER\b/i.test(open) && !/\bEND$/i.test(open)) {
      whole[whole.length - 1] = `${open}; ${part}`;
    } else whole.push(part);
  }
  return whole;
}

describe("D1 migrations", () => {
  it("give exactly the schema in schema.sql when applied in order", async () => {
    await env.SCHEMA_SQL_DB.batch(statements(env.TEST_SCHEMA_SQL).map((s) => env.SCHEMA_SQL_DB.prepare(s)));
    const migrated = await schemaOf(env.DB);
    const declared = await schemaOf(env.SCHEMA_SQL_DB);
    expect(Object.keys(migrated).length).toBeGreaterThan(10);
    expect(migrated).toEqual(declared);
  });

  it("are numbered in order, each applied once", async () => {
    const names = env.TEST_MIGRATIONS.map((m) => m.name);
    expect(names).toEqual([...names].sort());
    expect(names.every((name) => /^\d{4}_[a-z0-9_]+\.sql$/.test(name))).toBe(true);
    const { results } = await env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
    expect(results.map((r) => r.name)).toEqual(names);
  });
});
