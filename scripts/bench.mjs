#!/usr/bin/env node
// `npm run bench [-- --seconds 10 --concurrency 16 --port 8799 --json out.json]`
//
// Measures the hot paths as throughput ratios to the API's own GET /v1/health in the same run
// under `wrangler dev` (the project's performance rule: ratios, never timed tests). It starts
// its own `npm run dev` on a spare port, sets up a company, a key and enrolled identities, then
// runs each phase for a fixed time at a fixed concurrency from this process. Health runs first
// and last; the baseline is their mean, to even out drift. The load generator shares the
// machine with workerd, the same for every phase, so the ratios compare like with like.
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
const base = `http://127.0.0.1:${port}`;
const TARGETS = { "introspect (strong)": 0.5, "verify (TOTP)": 0.4, discover: 0.35 };

const logPath = join(tmpdir(), `hld-bench-${process.pid}.log`);
const log = createWriteStream(logPath);
const dev = spawn("node", ["scripts/dev.mjs", "--port", String(port)], {
  detached: true,
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
dev.stdout.pipe(log);
dev.stderr.pipe(log);
const stopDev = () => {
  try {
    process.kill(-dev.pid, "SIGTERM");
  } catch {
    // already gone
  }
};
process.on("exit", stopDev);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

async function waitForHealth(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/v1/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`wrangler dev did not answer on ${base} (log: ${logPath})`);
}

async function api(path, { method = "GET", token, body } = {}) {
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
async function phase(name, request) {
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
        const res = await fetch(`${base}${init.path}`, init);
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
  console.error(`starting wrangler dev on ${base} (log: ${logPath})`);
  await waitForHealth(90_000);
  const adminToken = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1];
  if (!adminToken) throw new Error("no ADMIN_TOKEN in .dev.vars");

  const { company } = await api("/v1/admin/companies", { method: "POST", token: adminToken, body: { name: "bench" } });
  const scopes = ["idp:read", "idp:write", "sentinel:read", "sentinel:write", "audit:read"];
  const { api_key } = await api("/v1/admin/api-keys", {
    method: "POST",
    token: adminToken,
    body: { company_id: company.id, scopes },
  });
  const key = api_key.key;

  // Each identity gives three successful verifies: steps s-1, s, s+1, in that order (a step at
  // or before the last accepted one is a replay). One worker owns an identity's three codes.
  const identityCount = Number(option("identities", "900"));
  console.error(`enrolling ${identityCount} identities`);
  const identities = Array.from({ length: identityCount }, (_, i) => ({
    externalId: `bench-${i}`,
    id: "",
    secret: "",
  }));
  await pool(identities, 16, async (identity) => {
    const created = await api("/v1/idp/users", {
      method: "POST",
      token: key,
      body: { user: { external_id: identity.externalId } },
    });
    identity.id = created.user.id;
    const enrolled = await api(`/v1/idp/otp?externalUserId=${identity.externalId}`, {
      method: "POST",
      token: key,
      body: { otp: { issuer_name: "Bench", account_name: identity.externalId } },
    });
    identity.secret = enrolled.user.new_otp_secret;
  });

  const profileUser = identities[0].externalId;
  const sessionOwner = identities.pop();
  const verified = await api("/v1/idp/otp/verify", {
    method: "POST",
    token: key,
    body: { otp: { id: sessionOwner.externalId, code: totp(sessionOwner.secret, Date.now()) } },
  });
  const sessionToken = verified.session.token;
  const auth = { authorization: `Bearer ${key}` };
  const post = (path, body) => ({
    path,
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

  console.error(`measuring: ${seconds} s a phase, concurrency ${concurrency}`);
  const results = [];
  results.push(await phase("health (first)", () => ({ path: "/v1/health" })));
  results.push(await phase("profile", () => ({ path: `/v1/idp/users?externalUserId=${profileUser}`, headers: auth })));
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
        sentinel: {
          id: identities[n % 64].id,
          context: { ip: `34.1.${(n * 7) % 64}.7`, ua: browser, country: "FR" },
        },
      }),
    ),
  );

  // Codes are computed before the phase so client-side TOTP does not count. Identity i takes
  // requests 3i, 3i+1, 3i+2; a request slot belongs to a worker only after the previous one of
  // the same identity was sent, so the three steps reach the server in order.
  const nowMs = Date.now();
  const codes = identities.flatMap((identity) =>
    [-30_000, 0, 30_000].map((offset) => ({ id: identity.externalId, code: totp(identity.secret, nowMs + offset) })),
  );
  results.push(await verifyPhase(codes, post));
  results.push(await phase("health (last)", () => ({ path: "/v1/health" })));

  const health = (results[0].rps + results.at(-1).rps) / 2;
  const rows = results.map((r) => ({
    ...r,
    ratio: r.rps / health,
    target: TARGETS[r.name] ?? null,
  }));
  console.log(`\nbaseline: health ${health.toFixed(0)} req/s (mean of first and last)\n`);
  console.log("endpoint                 requests  errors    req/s  ratio  target");
  for (const row of rows) {
    const verdict = row.target === null ? "" : `${row.target.toFixed(2)} ${row.ratio >= row.target ? "PASS" : "BELOW"}`;
    const flag = row.errors > 0 ? "  (errors!)" : "";
    console.log(
      `${row.name.padEnd(24)} ${String(row.requests).padStart(8)} ${String(row.errors).padStart(7)} ${row.rps.toFixed(0).padStart(8)}  ${row.ratio.toFixed(2).padStart(5)}  ${verdict}${flag}`,
    );
  }
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify({ seconds, concurrency, health, rows }, null, 2)}\n`);
}

/** The verify phase: each identity's three codes are sent in order by the worker that owns it. */
async function verifyPhase(codes, post) {
  let requests = 0;
  let errors = 0;
  let nextIdentity = 0;
  const identityCount = codes.length / 3;
  const startMs = performance.now();
  const deadline = startMs + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && nextIdentity < identityCount) {
        const i = nextIdentity++;
        for (let step = 0; step < 3 && performance.now() < deadline; step++) {
          const { id, code } = codes[i * 3 + step];
          const init = post("/v1/idp/otp/verify", { otp: { id, code } });
          const res = await fetch(`${base}${init.path}`, init);
          await res.arrayBuffer();
          requests++;
          if (!res.ok) errors++;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - startMs) / 1000;
  const ranOut = nextIdentity >= identityCount ? " (ran out of prepared identities: raise --identities)" : "";
  console.error(`  verify (TOTP): ${requests} requests, ${errors} errors${ranOut}`);
  return { name: "verify (TOTP)", requests, errors, rps: requests / elapsedS };
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
