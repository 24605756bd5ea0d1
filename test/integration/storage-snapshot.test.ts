/**
 * A new identity's object creates its tables from STORAGE_SNAPSHOT in one step; an object made
 * before the latest migrations replays the steps it lacks. Both must end with the same tables,
 * column for column, or an old identity and a new one would behave differently.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { IdentityStore, STORAGE_MIGRATIONS, STORAGE_SNAPSHOT } from "../../src/identity/storage";
import { D1Outbox } from "../../src/ledger/outbox";

type Shape = Record<string, unknown[]>;

/** Every table of the object with its columns (name, type, not null, default, key) and indexes. */
function shapeOf(sql: SqlStorage): Shape {
  const tables = sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
    )
    .toArray();
  const shape: Shape = {};
  for (const { name } of tables) {
    const columns = sql.exec(`PRAGMA table_info(${name})`).toArray();
    const indexes = sql.exec(`PRAGMA index_list(${name})`).toArray();
    shape[name] = [...columns.map((c) => ({ ...c })), ...indexes.map((i) => ({ ...i }))];
  }
  return shape;
}

/** Runs `build` in the storage of a fresh, never-provisioned identity object; returns its tables. */
async function tablesBuiltBy(build: (sql: SqlStorage, storage: DurableObjectStorage) => void): Promise<Shape> {
  const stub = env.IDENTITY_GUARD.get(env.IDENTITY_GUARD.idFromName(`snapshot-${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_, state) => {
    state.storage.transactionSync(() => build(state.storage.sql, state.storage));
    return shapeOf(state.storage.sql);
  });
}

const outboxBefore =
  "CREATE TABLE d1_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, sql TEXT NOT NULL, params TEXT NOT NULL)";

describe("the storage snapshot", () => {
  it("builds the same tables as replaying every migration", async () => {
    const fresh = await tablesBuiltBy((sql, storage) => {
      new IdentityStore(sql).migrate(() => new D1Outbox(sql, storage).createSchema());
    });
    const replayed = await tablesBuiltBy((sql, storage) => {
      sql.exec(outboxBefore);
      for (const step of STORAGE_MIGRATIONS) sql.exec(step);
      new D1Outbox(sql, storage).createSchema();
      sql.exec("CREATE TABLE schema_version (singleton INTEGER PRIMARY KEY, version INTEGER NOT NULL)");
    });
    expect(Object.keys(fresh)).toContain("identity");
    expect(fresh).toEqual(replayed);
  });

  for (const applied of [1, 2, 6, STORAGE_MIGRATIONS.length - 1]) {
    it(`brings an object that stopped after ${applied} steps to the same tables`, async () => {
      const fresh = await tablesBuiltBy((sql) => new IdentityStore(sql).migrate(() => {}));
      const upgraded = await tablesBuiltBy((sql) => {
        sql.exec("CREATE TABLE schema_version (singleton INTEGER PRIMARY KEY, version INTEGER NOT NULL)");
        for (const step of STORAGE_MIGRATIONS.slice(0, applied)) sql.exec(step);
        sql.exec("INSERT INTO schema_version (singleton, version) VALUES (1, ?)", applied);
        new IdentityStore(sql).migrate(() => {});
      });
      expect(upgraded).toEqual(fresh);
    });
  }

  it("has fewer statements than the migrations it stands for", () => {
    expect(STORAGE_SNAPSHOT.length).toBeLessThan(STORAGE_MIGRATIONS.length);
  });
});
