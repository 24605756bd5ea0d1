#!/usr/bin/env node
// `npm run bench [-- --seconds 10 --concurrency 16 --port 8799 --json out.json]`
//
// Measures the hot paths as throughput ratios, in the same run under `wrangler dev` (the
// project's performance rule: ratios, never timed tests), to two baselines: the API's own
// GET /v1/health, and the runtime's floor, a bare Hono "hello" Worker (scripts/floor) served by
// a second `wrangler dev` beside the service. It starts both on spare ports, sets up a company,
// a key, identities with backup codes and one with TOTP, then runs each phase for a fixed time
// at a fixed concurrency from this process. Health runs first and last: the baseline is their
// mean and their spread is the run's noise. Every request of the provision and verify phases
// carries a body no other request carries (a new external id, an unused backup code), so each
// one must be a 2xx. After the verify phase it waits for the D1 writes queue to drain and reads
// how many D1 statements the verifies cost (GET /v1/admin/outbox). The load generator shares
// the machine with workerd, the same for every phase, so the ratios compare like with like.
// It is a measurement: it exits 0 whatever the ratios, non-zero only if setup fails.
import { spawn } from "node:child_process";
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Secret, TOTP } from "otpauth";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const seconds = Number(option("seconds", "10"));
const concurrency = Number(option("concurrency", "16"));
const port = Number(option("port", "8799"));
const jsonPath = option("json", null);
/** `--only verify,provision`: run just these rows (and the baselines), for quick comparisons. */
const only = option("only", null)?.split(",") ?? null;
const BASELINES = ["health", "floor"];
const base = `http://127.0.0.1:${port}`;
const floorPort = port + 1;
const floorBase = `http://127.0.0.1:${floorPort}`;
/** Each row's target, as a ratio to health (the README's table). */
const TARGETS = {
  profile: 0.5,
  "introspect (strong)": 0.5,
  "introspect (eventual)": 0.6,
  discover: 0.35,
  provision: 0.2,
  "verify (backup code)": 0.4,
};
/** At most this many D1 statements per 1,000 verifies. */
const D1_STATEMENTS_TARGET = 50;

const logPath = join(tmpdir(), `hld-bench-${process.pid}.log`);
const log = createWriteStream(logPath);
const dev = spawn("node", ["scripts/dev.mjs", "--port", String(port)], {
  detached: true,
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
dev.stdout.pipe(log);
dev.stderr.pipe(log);
const floor = spawn(
  "node_modules/.bin/wrangler",
  [
    "dev",
    "--config",
    "scripts/floor/wrangler.toml",
    "--port",
    String(floorPort),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    join(tmpdir(), `hld-bench-floor-${process.pid}`),
  ],
  { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);
floor.stdout.pipe(log);
floor.stderr.pipe(log);
const stopDev = () => {
  for (const child of [dev, floor]) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
};
process.on("exit", stopDev);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

async function waitForUrl(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`wrangler dev did not answer on ${url} (log: ${logPath})`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(path, { method = "POST", token, body } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs `work` in `workers` parallel loops over `items`. */
async function pool(items, workers, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** One timed phase: `concurrency` loops calling `request(n)` until the time is up or it returns null. */
/** Runs one row; `group` is the name `--only` selects it by (a row measured beside another). */
async function phase(name, request, group = name) {
  if (only && ![...only, ...BASELINES].some((prefix) => group.startsWith(prefix))) {
    return { name, requests: 0, errors: 0, rps: 0, skipped: true };
  }
  let requests = 0;
  let errors = 0;
  let n = 0;
  const startMs = performance.now();
  const deadline = startMs + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const init = request(n++);
        if (init === null) return;
        const res = await fetch(`${init.base ?? base}${init.path}`, init);
        await res.arrayBuffer();
        requests++;
        if (!res.ok) errors++;
      }
    }),
  );
  const elapsedS = (performance.now() - startMs) / 1000;
  const result = { name, requests, errors, rps: requests / elapsedS };
  console.error(`  ${name}: ${requests} requests, ${errors} errors, ${result.rps.toFixed(0)} req/s`);
  return result;
}

async function main() {
  console.error(`starting wrangler dev on ${base} and the floor on ${floorBase} (log: ${logPath})`);
  await Promise.all([waitForUrl(`${base}/v1/health`, 90_000), waitForUrl(`${floorBase}/`, 90_000)]);
  const adminToken = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1];
  if (!adminToken) throw new Error("no ADMIN_TOKEN in .dev.vars");

  const { company } = await api("/v1/admin/companies", { token: adminToken, body: { name: "bench" } });
  const scopes = ["idp:read", "idp:write", "sentinel:read", "sentinel:write", "audit:read"];
  const { api_key } = await api("/v1/admin/api-keys", { token: adminToken, body: { company_id: company.id, scopes } });
  const key = api_key.key;
  const run = Date.now().toString(36);

  // Identities with 10 backup codes each: every verify of the phase spends a code never sent before.
  const identityCount = Number(option("identities", "600"));
  console.error(`provisioning ${identityCount} identities with backup codes`);
  const identities = Array.from({ length: identityCount }, (_, i) => ({
    externalId: `bench-${run}-${i}`,
    id: "",
    codes: [],
  }));
  await pool(identities, 16, async (identity) => {
    const created = await api("/v1/idp/users", { token: key, body: { user: { external_id: identity.externalId } } });
    identity.id = created.user.id;
    const generated = await api(`/v1/idp/backup-codes?externalUserId=${identity.externalId}`, { token: key, body: {} });
    identity.codes = generated.user.backupCodes;
  });

  // One TOTP identity holds the session the introspection phases read.
  const sessionOwner = `bench-${run}-session`;
  await api("/v1/idp/users", { token: key, body: { user: { external_id: sessionOwner } } });
  const enrolled = await api(`/v1/idp/otp?externalUserId=${sessionOwner}`, {
    token: key,
    body: { otp: { issuer_name: "Bench", account_name: sessionOwner } },
  });
  const verified = await api("/v1/idp/otp/verify", {
    token: key,
    body: { otp: { id: sessionOwner, code: totp(enrolled.user.new_otp_secret, Date.now()) } },
  });
  const sessionToken = verified.session.token;
  const auth = { authorization: `Bearer ${key}` };
  const post = (path, body) => ({
    path,
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  // Let the setup's writes reach D1, and the safety alarms of the objects it made (10 s after
  // their last change) run, before measuring: the first health row measures a quiet service.
  await drained(adminToken);
  await sleep(12_000);

  console.error(`measuring: ${seconds} s a phase, concurrency ${concurrency}`);
  const results = [];
  results.push(await phase("health (first)", () => ({ path: "/v1/health" })));
  results.push(await phase("floor (bare Hono)", () => ({ base: floorBase, path: "/" })));
  results.push(
    await phase("profile", () => ({ path: `/v1/idp/users?externalUserId=${identities[0].externalId}`, headers: auth })),
  );
  results.push(
    await phase("introspect (strong)", () => post("/v1/idp/sessions/introspect", { session: { token: sessionToken } })),
  );
  results.push(
    await phase("introspect (eventual)", () =>
      post("/v1/idp/sessions/introspect", { session: { token: sessionToken }, consistency: "eventual" }),
    ),
  );

  // Discover: a steady state of 64 identities (one object each) seen from 64 public IPs (one
  // object each), so the phase measures warm objects and caches, not their creation.
  const browser =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15";
  results.push(
    await phase("discover", (n) =>
      post("/v1/sentinel/discover", {
        sentinel: { id: identities[n % 64].id, context: { ip: `34.1.${(n * 7) % 64}.7`, ua: browser, country: "FR" } },
      }),
    ),
  );
  // Verify: request n spends code n; codes are dealt round-robin over identities, so concurrent
  // requests mostly hit different identities and no code is ever sent twice.
  const codes = [];
  for (let c = 0; c < 10; c++)
    for (const identity of identities) codes.push({ id: identity.externalId, code: identity.codes[c] });
  const before = (await api("/v1/admin/outbox", { method: "GET", token: adminToken })).d1.statements;
  const verify = await phase("verify (backup code)", (n) =>
    n < codes.length ? post("/v1/idp/otp/verify", { otp: codes[n] }) : null,
  );
  if (verify.requests >= codes.length) console.error("  (ran out of prepared codes: raise --identities)");
  await drained(adminToken);
  const after = (await api("/v1/admin/outbox", { method: "GET", token: adminToken })).d1.statements;
  results.push(verify);
  // The verified identities' safety alarms run before the next row, as after setup.
  if (verify.requests > 0) await sleep(12_000);

  results.push(await phase("health (last)", () => ({ path: "/v1/health" })));

  // Provision runs after the baselines: the thousands of objects it and its floor create stay in
  // memory for a while and slow whatever follows (measured: verify 0.55 of health alone, 0.42
  // after them), so they would slow the last health row too and flatter every ratio.
  results.push(
    await phase("provision", (n) => post("/v1/idp/users", { user: { external_id: `bench-${run}-new-${n}` } })),
  );
  // The floor of provisioning: the same number of new objects, each writing one row, in the floor
  // Worker. Provision's ratio to it says what our identity costs beyond a new object.
  results.push(
    await phase(
      "floor (new object)",
      (n) => ({ base: floorBase, path: `/objects/${run}-${n}`, method: "POST" }),
      "provision",
    ),
  );

  const first = results[0].rps;
  const last = results.find((r) => r.name === "health (last)").rps;
  const health = (first + last) / 2;
  const floorRps = results[1].rps;
  const perThousand = ((after - before) / Math.max(1, verify.requests)) * 1000;
  const rows = results.map((r) => ({
    ...r,
    ratio: r.rps / health,
    floorRatio: r.rps / floorRps,
    target: TARGETS[r.name] ?? null,
  }));
  console.log(
    `\nbaseline: health ${health.toFixed(0)} req/s (first ${first.toFixed(0)}, last ${last.toFixed(0)}: noise ${((Math.abs(first - last) / health) * 100).toFixed(0)}%), floor ${floorRps.toFixed(0)} req/s\n`,
  );
  console.log("endpoint                 requests  errors    req/s  /health  /floor  target");
  for (const row of rows.filter((r) => !r.skipped)) {
    const verdict = row.target === null ? "" : `${row.target.toFixed(2)} ${row.ratio >= row.target ? "PASS" : "BELOW"}`;
    const flag = row.errors > 0 ? "  (errors!)" : "";
    console.log(
      `${row.name.padEnd(24)} ${String(row.requests).padStart(8)} ${String(row.errors).padStart(7)} ${row.rps.toFixed(0).padStart(8)}  ${row.ratio.toFixed(2).padStart(7)}  ${row.floorRatio.toFixed(2).padStart(6)}  ${verdict}${flag}`,
    );
  }
  const d1Verdict = perThousand <= D1_STATEMENTS_TARGET ? "PASS" : "ABOVE";
  console.log(
    `\nD1 statements per 1,000 verifies: ${perThousand.toFixed(1)} (${after - before} for ${verify.requests}; target at most ${D1_STATEMENTS_TARGET}: ${d1Verdict})`,
  );
  const provisioned = rows.find((r) => r.name === "provision" && !r.skipped);
  const bareObjects = rows.find((r) => r.name === "floor (new object)" && !r.skipped);
  if (provisioned && bareObjects) {
    console.log(
      `provision / floor (new object): ${(provisioned.rps / bareObjects.rps).toFixed(2)} (what an identity costs beyond creating its object)`,
    );
  }
  if (jsonPath) {
    writeFileSync(
      jsonPath,
      `${JSON.stringify({ seconds, concurrency, health, floor: floorRps, d1PerThousandVerifies: perThousand, rows }, null, 2)}\n`,
    );
  }
}

/** Waits until the D1 statement count stops moving for 2 s (the queue has drained). */
async function drained(adminToken) {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const now = (await api("/v1/admin/outbox", { method: "GET", token: adminToken })).d1.statements;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 2_000) return;
    await sleep(250);
  }
}

function totp(secret, timestampMs) {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 }).generate({
    timestamp: timestampMs,
  });
}

main()
  .catch((error) => {
    console.error(`bench failed: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    stopDev();
    setTimeout(() => process.exit(), 500);
  });
