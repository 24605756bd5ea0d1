/**
 * Threat: a connector's credentials (Entra's client secret, Okta's API token, Google's private
 * key) or a provider's access token leak: echoed by a response, written into an audit event, a
 * D1 row or a log line (a failed try's error included). Every response, every audit event,
 * every D1 row and every console line of a run that exercises every connector route and every
 * delivery outcome is read, and none may hold any of them.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, auditEvents, call } from "../helpers";
import { EXPECTED } from "../stand-ins/expected";
import { connected, settledAction } from "./support";

const lines: string[] = [];
beforeEach(() => {
  lines.length = 0;
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
});
afterEach(() => vi.restoreAllMocks());

describe("connector credentials and provider tokens", () => {
  it("appear in no response, audit event, D1 row or log line", async () => {
    const co = await connected(["entra", "okta", "google_workspace"]);
    const google = co.connectors.google_workspace as { id: string; stand: any };
    const entra = co.connectors.entra as { id: string; stand: any };
    const okta = co.connectors.okta as { id: string; stand: any };
    const responses: unknown[] = [];
    const keep = async (res: Promise<{ status: number; body: unknown }>) => {
      const r = await res;
      responses.push(r.body);
      return r as { status: number; body: any };
    };
    await keep(call("/v1/sentinel/connectors", { key: co.key }));
    for (const { id } of [entra, okta, google]) {
      await keep(call(`/v1/sentinel/connectors/${id}`, { key: co.key }));
      expect((await keep(call(`/v1/sentinel/connectors/${id}/test`, { key: co.key, method: "POST" }))).body.ok).toBe(
        true,
      );
    }
    // A failed try, a token refresh after a 401, a final 4xx: every path that writes an error.
    await entra.stand.script({ api: [500, 401] });
    await okta.stand.script({ api: [403] });
    const action = await keep(
      call(`/v1/sentinel/identity/${co.identityId}/disable`, { key: co.key, body: { reason: "IR" } }),
    );
    const settled = await settledAction(co.key, co.identityId, action.body.data.action.id);
    responses.push(settled);
    expect(settled.deliveries.map((d: { status: string }) => d.status).sort()).toEqual([
      "delivered",
      "delivered",
      "failed",
    ]);
    for (const { id } of [entra, okta, google]) await keep(call(`/v1/sentinel/connectors/${id}`, { key: co.key }));
    await keep(call(`/v1/sentinel/identity/${co.identityId}/actions`, { key: co.key }));
    await keep(call("/v1/admin/outbox", { key: ADMIN_TOKEN }));

    // What was issued and held: the credentials, and the access tokens the stand-ins gave.
    const issued = [...(await entra.stand.log()), ...(await google.stand.log())]
      .filter((r: { kind: string; answered: unknown }) => r.kind === "api")
      .map((r: { authorization: string }) => r.authorization.replace(/^Bearer /, ""));
    expect(issued.length).toBeGreaterThan(0);
    const privateKey = co.googlePrivateKey;
    const needles = [
      EXPECTED.entra.clientSecret,
      EXPECTED.okta.apiToken,
      ...new Set(issued),
      ...(privateKey ? [privateKey.split("\n")[5] as string] : []),
      "PRIVATE KEY",
    ];

    const events = await auditEvents(co.key, "", 0);
    const tables = (
      await env.DB.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      ).all<{ name: string }>()
    ).results;
    const rows: unknown[] = [];
    for (const { name } of tables) rows.push(...(await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results);

    const places: Record<string, string> = {
      responses: JSON.stringify(responses),
      "audit events": JSON.stringify(events),
      "D1 rows": JSON.stringify(rows),
      logs: lines.join("\n"),
    };
    expect(events.some((e: { type: string }) => e.type === "connector.delivery_failed")).toBe(true);
    for (const [where, text] of Object.entries(places)) {
      for (const needle of needles)
        expect(text.includes(needle), `${where} hold "${needle.slice(0, 12)}..."`).toBe(false);
    }
  });
});
