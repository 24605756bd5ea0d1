#!/usr/bin/env node
// `npm run chaos [-- --rounds 4 --burst 300 --concurrency 16 --seed N --port 8798]`
//
// The crash run. It starts the service on a state directory of its own, and in each round sends
// a burst of provisions, backup-code sets, verifies, identity actions (some naming incidents)
// and incident opens and closes, then kills the runtime's whole process tree with SIGKILL at a
// random moment of the burst, restarts it on the same state, and checks the promise "an audit
// event is durable before the response that caused it is sent, and reaches D1 exactly once":
// every request that got a 2xx has exactly one event of its type with its request id, and every
// chain verifies. Requests cut off by the kill are not 2xx and promise nothing. Seeded: the seed
// is printed first, and `--seed` replays the same plan (the kill lands where the timing puts it).
// Exits 1 on any loss, duplicate or broken chain.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalServer, option, pool, prng, request, sleep } from "./lib/local-server.mjs";

const rounds = Number(option("rounds", "4"));
const burst = Number(option("burst", "300"));
const concurrency = Number(option("concurrency", "16"));
const port = Number(option("port", "8798"));
const seed = Number(option("seed", String(Date.now() % 1_000_000_000)));
const settleSeconds = Number(option("settle", "60"));
const random = prng(seed);
const pick = (items) => items[Math.floor(random() * items.length)];

const stateDir = mkdtempSync(join(tmpdir(), "hld-chaos-state-"));
const logPath = join(tmpdir(), `hld-chaos-${process.pid}.log`);
const server = new LocalServer({ port, persistTo: stateDir, logPath });
process.on("exit", () => {
  server.stopNow();
  rmSync(stateDir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

/** Every 2xx answer: its request id and the audit event it must have produced. */
const expected = [];
const identities = [];
const incidents = [];

/** The kinds of request in a burst, each a function that sends one and records what a 2xx promises. */
function planOne(round, n, key) {
  const active = identities.filter((i) => !i.disabled);
  const withCodes = active.filter((i) => i.codes.length > 0);
  const open = incidents.filter((i) => i.open && !i.closing);
  const choices = [
    ["provision", 3],
    ["backup_codes", active.length > 0 ? 2 : 0],
    ["verify", withCodes.length > 0 ? 5 : 0],
    ["force_mfa", active.length > 0 ? 2 : 0],
    ["revoke_sessions", active.length > 0 ? 2 : 0],
    ["disable", active.length > 2 ? 1 : 0],
    ["enable", identities.some((i) => i.disabled) ? 1 : 0],
    ["incident_open", 1],
    ["incident_close", open.length > 0 ? 1 : 0],
    ["action_on_incident", open.length > 0 && active.length > 0 ? 2 : 0],
  ];
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  const roll = random() * total;
  let cumulative = 0;
  const kind =
    choices.find(([, weight]) => {
      cumulative += weight;
      return roll < cumulative;
    })?.[0] ?? "provision";
  const base = server.base;
  const expect = (res, status, type, extra = {}) => {
    if (res.status === status)
      expected.push({ requestId: res.headers.get("x-request-id"), type, kind, round, ...extra });
    return res;
  };

  switch (kind) {
    case "provision": {
      const externalId = `chaos-${seed}-r${round}-${n}`;
      return async () => {
        const res = await request(base, "/v1/idp/users", { token: key, body: { user: { external_id: externalId } } });
        expect(res, 201, "identity.provisioned");
        if (res.status === 201) identities.push({ externalId, id: res.body.user.id, codes: [], disabled: false });
      };
    }
    case "backup_codes": {
      const identity = pick(active);
      return async () => {
        const res = await request(base, `/v1/idp/backup-codes?externalUserId=${identity.externalId}`, {
          method: "POST",
          token: key,
        });
        expect(res, 201, "backup_codes.generated");
        if (res.status === 201) identity.codes = [...res.body.user.backupCodes];
      };
    }
    case "verify": {
      const identity = pick(withCodes);
      const code = identity.codes.pop();
      return async () => {
        const res = await request(base, "/v1/idp/otp/verify", {
          token: key,
          body: { otp: { id: identity.externalId, code }, context: { ip: "203.0.113.7", ua: "chaos/1.0" } },
        });
        expect(res, 200, "mfa.verify", { outcome: "success" });
      };
    }
    case "force_mfa":
    case "revoke_sessions":
    case "disable":
    case "enable":
    case "action_on_incident": {
      const type = kind === "action_on_incident" ? pick(["force_mfa", "revoke_sessions"]) : kind;
      const identity = type === "enable" ? pick(identities.filter((i) => i.disabled)) : pick(active);
      if (type === "disable") identity.disabled = true;
      if (type === "enable") identity.disabled = false;
      const incident = kind === "action_on_incident" ? pick(open) : null;
      const eventType = {
        force_mfa: "mfa.challenge_forced",
        revoke_sessions: "sessions.revoked",
        disable: "identity.disabled",
        enable: "identity.enabled",
      }[type];
      return async () => {
        const res = await request(base, `/v1/sentinel/identity/${identity.id}/${type.replace("_", "-")}`, {
          token: key,
          body: { reason: `chaos ${round}.${n}`, ...(incident ? { incident_id: incident.id } : {}) },
        });
        expect(res, 200, eventType);
      };
    }
    case "incident_open":
      return async () => {
        const res = await request(base, "/v1/sentinel/incidents", {
          token: key,
          body: { title: `chaos ${round}.${n}`, severity: "high" },
        });
        expect(res, 201, "incident.created");
        if (res.status === 201) incidents.push({ id: res.body.incident.id, open: true, closing: false });
      };
    case "incident_close": {
      const incident = pick(open);
      incident.closing = true;
      return async () => {
        const res = await request(base, `/v1/sentinel/incidents/${incident.id}/close`, { method: "POST", token: key });
        expect(res, 200, "incident.closed");
        if (res.status === 200) incident.open = false;
      };
    }
  }
  throw new Error(`unplanned kind ${kind}`);
}

/** Every audit event of the company, all pages. */
async function allEvents(key) {
  const events = [];
  let cursor = null;
  do {
    const res = await request(server.base, `/v1/audit/events?limit=200${cursor ? `&cursor=${cursor}` : ""}`, {
      token: key,
    });
    if (res.status !== 200) throw new Error(`audit events: ${res.status} ${JSON.stringify(res.body)}`);
    events.push(...res.body.events);
    cursor = res.body.next_cursor;
  } while (cursor);
  return events;
}

/** What is missing or doubled among `expected`, given the events D1 holds. */
function reconcile(events) {
  const byRequest = new Map();
  for (const event of events) {
    const list = byRequest.get(event.request_id) ?? [];
    list.push(event);
    byRequest.set(event.request_id, list);
  }
  const missing = [];
  const duplicated = [];
  for (const want of expected) {
    const matching = (byRequest.get(want.requestId) ?? []).filter(
      (e) => e.type === want.type && (want.outcome === undefined || e.outcome === want.outcome),
    );
    if (matching.length === 0) missing.push(want);
    if (matching.length > 1) duplicated.push({ ...want, count: matching.length });
  }
  const duplicateIds = events.length - new Set(events.map((e) => e.id)).size;
  return { missing, duplicated, duplicateIds };
}

async function main() {
  console.log(`chaos: seed ${seed}, ${rounds} rounds of ${burst} requests at concurrency ${concurrency}`);
  console.log(`chaos: state ${stateDir}, server log ${logPath}`);
  await server.start();
  const key = await server.tenantKey("chaos");
  const failures = [];

  for (let round = 1; round <= rounds; round++) {
    const before = expected.length;
    const killAfterMs = Math.round(200 + random() * 2300);
    let killed = false;
    let cutOff = 0;
    const startedMs = Date.now();
    const killer = sleep(killAfterMs).then(async () => {
      killed = true;
      await server.stop("SIGKILL");
    });
    let sent = 0;
    await pool(
      Array.from({ length: burst }, (_, n) => n),
      concurrency,
      async (n) => {
        if (killed) return;
        const send = planOne(round, n, key);
        sent++;
        try {
          await send();
        } catch {
          cutOff++; // the connection died with the runtime
        }
      },
    );
    const burstMs = Date.now() - startedMs;
    await killer;
    await server.start();

    // Hot-path events reach D1 from each object's alarm, shortly after the answer (and after a
    // crash, once the alarm runs again): wait for them, bounded.
    const deadline = Date.now() + settleSeconds * 1000;
    let result = reconcile(await allEvents(key));
    while (result.missing.length > 0 && Date.now() < deadline) {
      await sleep(1000);
      result = reconcile(await allEvents(key));
    }
    const settledMs = Date.now() - startedMs - burstMs;
    const verify = await request(server.base, "/v1/audit/verify", { token: key });
    const roundExpected = expected.slice(before);
    const byKind = {};
    for (const e of roundExpected) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
    console.log(
      `round ${round}: killed at ${killAfterMs} ms (burst ran ${burstMs} ms, ${sent} sent, ${cutOff} cut off), ` +
        `${roundExpected.length} answered 2xx ${JSON.stringify(byKind)}; ` +
        `events expected ${expected.length} in all, missing ${result.missing.length}, ` +
        `duplicated ${result.duplicated.length + result.duplicateIds} (checked ${settledMs} ms after the burst); ` +
        `verify ok=${verify.body.ok} checked=${verify.body.checked} broken=${verify.body.broken_count}`,
    );
    for (const m of result.missing.slice(0, 10))
      console.log(`  missing: ${m.type} for ${m.kind} ${m.requestId} (round ${m.round})`);
    for (const d of result.duplicated.slice(0, 10)) console.log(`  duplicated x${d.count}: ${d.type} ${d.requestId}`);
    if (result.missing.length > 0) failures.push(`round ${round}: ${result.missing.length} events missing`);
    if (result.duplicated.length + result.duplicateIds > 0) failures.push(`round ${round}: duplicated events`);
    if (verify.body.ok !== true) failures.push(`round ${round}: audit verify ${JSON.stringify(verify.body.broken)}`);
  }

  await server.stop("SIGTERM");
  console.log(
    failures.length === 0
      ? `chaos: PASS: ${rounds} kills, ${expected.length} answered requests, every event present exactly once, every chain verifies`
      : `chaos: FAIL: ${failures.join("; ")}`,
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(`chaos: could not run: ${error.stack ?? error}`);
  process.exitCode = 2;
});
