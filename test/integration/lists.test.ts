import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createCompany, createKey, tenant } from "../helpers";

type Item = { id: string; created_at: string };

/**
 * Every page of a list, following `next_cursor` with `limit` items a page: the items in the
 * order served, and the pages' sizes. Fails on a page that is not 200 or larger than `limit`.
 */
async function allPages(
  path: string,
  field: string,
  key: string,
  limit: number,
): Promise<{ items: any[]; sizes: number[]; texts: string[] }> {
  const items: any[] = [];
  const sizes: number[] = [];
  const texts: string[] = [];
  const sep = path.includes("?") ? "&" : "?";
  let cursor: string | null = null;
  do {
    const res: { status: number; body: any } = await call(
      `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { key },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body[field].length).toBeLessThanOrEqual(limit);
    items.push(...res.body[field]);
    sizes.push(res.body[field].length);
    texts.push(JSON.stringify(res.body));
    cursor = res.body.next_cursor;
    expect(cursor === null || typeof cursor === "string").toBe(true);
    if (sizes.length > 100) throw new Error("more than 100 pages: the cursor does not advance");
  } while (cursor);
  return { items, sizes, texts };
}

/** Newest first: (created_at, id) strictly descending, so no item twice and none out of place. */
function expectNewestFirst(items: Item[]): void {
  for (let i = 1; i < items.length; i++) {
    const before = items[i - 1] as Item;
    const after = items[i] as Item;
    const descending =
      before.created_at > after.created_at || (before.created_at === after.created_at && before.id > after.id);
    expect(descending, `${before.id} (${before.created_at}) before ${after.id} (${after.created_at})`).toBe(true);
  }
}

const ids = (items: { id: string }[]) => items.map((i) => i.id);

describe("GET /v1/sentinel/incidents", () => {
  /** A tenant with 5 incidents, the 2nd and 4th closed; returns them as GET /incidents/{id} shows them, without actions. */
  async function withIncidents(): Promise<{ key: string; opened: any[] }> {
    const { key } = await tenant();
    const opened: any[] = [];
    for (const [i, severity] of (["low", "medium", "high", "critical", "high"] as const).entries()) {
      const res = await call("/v1/sentinel/incidents", { key, body: { title: `Incident ${i}`, severity } });
      expect(res.status).toBe(201);
      opened.push(res.body.incident);
    }
    for (const i of [1, 3]) {
      const res = await call(`/v1/sentinel/incidents/${opened[i].id}/close`, { key, method: "POST" });
      expect(res.status).toBe(200);
      opened[i] = res.body.incident;
    }
    return { key, opened };
  }

  it("pages newest first with the single incident's shape (no actions), every incident exactly once", async () => {
    const { key, opened } = await withIncidents();
    // Incidents reach D1 through the company's ledger before the answer; poll in case it had to retry.
    await expect
      .poll(async () => (await call("/v1/sentinel/incidents?limit=200", { key })).body.incidents?.length, {
        timeout: 10_000,
      })
      .toBe(5);
    const whole = (await call("/v1/sentinel/incidents?limit=200", { key })).body;
    expect(whole.next_cursor).toBeNull();
    expectNewestFirst(whole.incidents);
    expect(new Set(ids(whole.incidents))).toEqual(new Set(ids(opened)));

    const paged = await allPages("/v1/sentinel/incidents", "incidents", key, 2);
    expect(paged.sizes).toEqual([2, 2, 1]);
    expect(ids(paged.items)).toEqual(ids(whole.incidents));

    for (const item of paged.items) {
      const single = (await call(`/v1/sentinel/incidents/${item.id}`, { key })).body.incident;
      const { actions, ...withoutActions } = single;
      expect(actions).toEqual([]);
      expect(item).toEqual(withoutActions);
      expect(item).toEqual(opened.find((o) => o.id === item.id));
      expect(Object.keys(item).sort()).toEqual(
        ["closed_at", "created_at", "created_by", "id", "severity", "status", "title"].sort(),
      );
    }
  });

  it("filters by status, paging within the filter, and refuses an unknown status naming the field", async () => {
    const { key, opened } = await withIncidents();
    const open = await allPages("/v1/sentinel/incidents?status=open", "incidents", key, 1);
    expect(open.sizes).toEqual([1, 1, 1]);
    expect(new Set(ids(open.items))).toEqual(new Set([opened[0].id, opened[2].id, opened[4].id]));
    expect(open.items.every((i) => i.status === "open" && i.closed_at === null)).toBe(true);
    expectNewestFirst(open.items);

    const closed = await allPages("/v1/sentinel/incidents?status=closed", "incidents", key, 1);
    expect(new Set(ids(closed.items))).toEqual(new Set([opened[1].id, opened[3].id]));
    expect(closed.items.every((i) => i.status === "closed" && typeof i.closed_at === "string")).toBe(true);
    expectNewestFirst(closed.items);

    const both = await allPages("/v1/sentinel/incidents", "incidents", key, 50);
    expect(both.items).toHaveLength(5);

    for (const status of ["pending", "OPEN", ""]) {
      const res = await call(`/v1/sentinel/incidents?status=${status}`, { key });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_request");
      expect(res.body.details.map((d: { path: string }) => d.path)).toEqual(["status"]);
    }
  });

  it("uses the assessments list's limits and refuses a cursor it did not issue", async () => {
    const { key } = await tenant();
    for (const limit of ["0", "201", "x", "1.5"]) {
      const res = await call(`/v1/sentinel/incidents?limit=${limit}`, { key });
      expect(res.status).toBe(400);
      expect(res.body.details[0].path).toBe("limit");
    }
    expect((await call("/v1/sentinel/incidents?limit=200", { key })).status).toBe(200);
    const bad = await call("/v1/sentinel/incidents?cursor=not-a-cursor", { key });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "invalid_request", details: [{ path: "cursor" }] });
  });

  it("shows a company its own incidents only, even given another company's cursor", async () => {
    const a = await withIncidents();
    const b = await tenant("Other");
    const mine = (await call("/v1/sentinel/incidents", { key: b.key, body: { title: "B's own" } })).body.incident;

    const seenByB = await allPages("/v1/sentinel/incidents", "incidents", b.key, 1);
    expect(ids(seenByB.items)).toEqual([mine.id]);
    const seenByA = await allPages("/v1/sentinel/incidents", "incidents", a.key, 2);
    expect(ids(seenByA.items)).not.toContain(mine.id);
    expect(seenByA.items).toHaveLength(5);

    // A's cursor is a position, not a grant: B following it still sees only B's rows.
    const aFirst = (await call("/v1/sentinel/incidents?limit=1", { key: a.key })).body;
    const bWithA = await call(`/v1/sentinel/incidents?cursor=${encodeURIComponent(aFirst.next_cursor)}`, {
      key: b.key,
    });
    expect(bWithA.status).toBe(200);
    for (const item of bWithA.body.incidents) expect(item.id).toBe(mine.id);
    expect(JSON.stringify(bWithA.body)).not.toContain("Incident ");
  });

  it("needs sentinel:read", async () => {
    const companyId = await createCompany();
    const writeOnly = await createKey(companyId, ["sentinel:write", "idp:read", "audit:read"]);
    const res = await call("/v1/sentinel/incidents", { key: writeOnly.key });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: "insufficient_scope", required_scope: "sentinel:read" });
    expect((await call("/v1/sentinel/incidents")).status).toBe(401);
  });
});

describe("GET /v1/admin/companies", () => {
  it("pages newest first, every company exactly once, in the shape creation returns", async () => {
    const created: any[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call("/v1/admin/companies", { key: ADMIN_TOKEN, body: { name: `Listed ${i}` } });
      expect(res.status).toBe(201);
      created.push(res.body.company);
    }
    // Other tests of this file create companies too: the list holds at least these five.
    const whole = await allPages("/v1/admin/companies", "companies", ADMIN_TOKEN, 200);
    expectNewestFirst(whole.items);
    const paged = await allPages("/v1/admin/companies", "companies", ADMIN_TOKEN, 2);
    expect(paged.items).toEqual(whole.items);
    expect(paged.sizes.length).toBe(Math.ceil(whole.items.length / 2));
    for (const company of created) {
      expect(paged.items.filter((c) => c.id === company.id)).toEqual([company]);
    }
    for (const item of paged.items) expect(Object.keys(item).sort()).toEqual(["created_at", "id", "name"]);
  });

  it("refuses an API key, a wrong token and no token (401)", async () => {
    const { key } = await tenant();
    for (const token of [key, "wrong", `${ADMIN_TOKEN}x`, null]) {
      const res = await call("/v1/admin/companies", { key: token });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthorized");
      expect(res.body.companies).toBeUndefined();
    }
  });
});

describe("GET /v1/admin/api-keys", () => {
  const KEY_FIELDS = ["company_id", "created_at", "id", "mode", "name", "prefix", "revoked_at", "scopes"];

  it("pages a company's keys newest first, revoked ones included, never the key or its hash", async () => {
    const { companyId, key: firstKey, keyId: firstId } = await tenant();
    const made: { id: string; key: string }[] = [{ id: firstId, key: firstKey }];
    for (const body of [
      { scopes: ["idp:read"], name: "ci", mode: "test" },
      { scopes: ["sentinel:read", "sentinel:write"] },
      { scopes: ["audit:read"], name: "auditor" },
    ]) {
      const res = await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, ...body } });
      expect(res.status).toBe(201);
      made.push({ id: res.body.api_key.id, key: res.body.api_key.key });
    }
    const revoked = await call(`/v1/admin/api-keys/${made[1]?.id}`, { key: ADMIN_TOKEN, method: "DELETE" });
    expect(revoked.status).toBe(200);
    // Another company's key, which must not show.
    const other = await tenant("Other");

    const paged = await allPages(`/v1/admin/api-keys?company_id=${companyId}`, "api_keys", ADMIN_TOKEN, 3);
    expect(paged.sizes).toEqual([3, 1]);
    expectNewestFirst(paged.items);
    expect(new Set(ids(paged.items))).toEqual(new Set(ids(made)));
    expect(ids(paged.items)).not.toContain(other.keyId);

    const byId = new Map(paged.items.map((item) => [item.id, item]));
    expect(byId.get(made[1]?.id ?? "")).toMatchObject({
      name: "ci",
      mode: "test",
      scopes: ["idp:read"],
      revoked_at: revoked.body.api_key.revoked_at,
    });
    expect(byId.get(made[2]?.id ?? "")).toMatchObject({
      name: null,
      mode: "live",
      scopes: ["sentinel:read", "sentinel:write"],
      revoked_at: null,
    });

    const hashes = (
      await env.DB.prepare("SELECT key_hash FROM api_keys WHERE company_id = ?").bind(companyId).all<{
        key_hash: string;
      }>()
    ).results.map((r) => r.key_hash);
    expect(hashes).toHaveLength(4);
    for (const item of paged.items) {
      expect(Object.keys(item).sort()).toEqual(KEY_FIELDS);
      expect(item.company_id).toBe(companyId);
      const secret = made.find((m) => m.id === item.id)?.key ?? "";
      expect(secret.startsWith(item.prefix)).toBe(true);
      expect(item.prefix.length).toBeLessThan(secret.length);
    }
    const text = paged.texts.join("\n");
    for (const { key } of made) expect(text).not.toContain(key);
    for (const hash of hashes) expect(text).not.toContain(hash);
  });

  it("needs company_id, and answers 404 for an unknown company", async () => {
    const missing = await call("/v1/admin/api-keys", { key: ADMIN_TOKEN });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: "invalid_request", details: [{ path: "company_id" }] });
    const unknown = await call("/v1/admin/api-keys?company_id=cmp_nope", { key: ADMIN_TOKEN });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "not_found", error: "Company not found" });
  });

  it("refuses an API key, a wrong token and no token (401)", async () => {
    const { key, companyId } = await tenant();
    for (const token of [key, "wrong", null]) {
      const res = await call(`/v1/admin/api-keys?company_id=${companyId}`, { key: token });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthorized");
      expect(JSON.stringify(res.body)).not.toContain("api_keys");
    }
  });
});
