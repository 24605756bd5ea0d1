#!/usr/bin/env node
// `npm run deploy`: from a clone to a deployed service, with your own `wrangler login` (or
// CLOUDFLARE_API_TOKEN). It asks wrangler what the account has, plans (scripts/deploy-plan.ts,
// tested on captured outputs), creates what is missing (the D1 database, the KV namespace, the
// queues), writes their ids into wrangler.toml, applies the D1 migrations remotely, generates
// each missing secret (`wrangler secret put`, piped, never printed; the admin token alone is
// printed, once, when it is created) and deploys with `--minify`. Safe to run again: it looks
// everything up first. Stops at the first failing step.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const out = join(mkdtempSync(join(tmpdir(), "hld-deploy-")), "plan.mjs");
await build({ entryPoints: ["scripts/deploy-plan.ts"], outfile: out, platform: "node", format: "esm", bundle: true });
const { planDeploy, PLACEHOLDER_D1_ID } = await import(pathToFileURL(out).href);

const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const wrangler = (argv, input) => {
  const run = spawnSync("node_modules/.bin/wrangler", argv, { encoding: "utf8", env, input });
  return { ok: run.status === 0, stdout: run.stdout ?? "", stderr: run.stderr ?? "" };
};
const json = (text, fallback) => {
  const start = text.search(/[[{]/);
  try {
    return start === -1 ? fallback : JSON.parse(text.slice(start));
  } catch {
    return fallback;
  }
};

const GENERATE = {
  ADMIN_TOKEN: () => `adm_${randomBytes(24).toString("base64url")}`,
  TOTP_ENCRYPTION_KEYS: () => `k1:${randomBytes(32).toString("base64")}`,
  BACKUP_CODE_PEPPER: () => randomBytes(32).toString("base64"),
  SESSION_SIGNING_KEY: () => `s1:${randomBytes(32).toString("base64")}`,
};

function gather() {
  const toml = readFileSync("wrangler.toml", "utf8");
  const secrets = wrangler(["secret", "list", "--format", "json"]);
  return {
    whoami: wrangler(["whoami"]).stdout,
    d1: json(wrangler(["d1", "list", "--json"]).stdout, []),
    kv: json(wrangler(["kv", "namespace", "list"]).stdout, []),
    queuesTable: wrangler(["queues", "list"]).stdout,
    secrets: secrets.ok ? json(secrets.stdout, []) : null,
    config: {
      d1Id: /database_id = "([^"]*)"/.exec(toml)?.[1] ?? PLACEHOLDER_D1_ID,
      kvId: /binding = "REVOCATIONS"\nid = "([^"]*)"/.exec(toml)?.[1] ?? "",
    },
  };
}

for (let round = 0; round < 4; round++) {
  const steps = planDeploy(gather());
  for (const step of steps) {
    console.log(`- ${step.why}`);
    if (step.kind === "stop") process.exit(1);
    if (step.kind === "config") {
      const toml = readFileSync("wrangler.toml", "utf8");
      const next =
        step.key === "d1Id"
          ? toml.replace(/database_id = "[^"]*"/, `database_id = "${step.value}"`)
          : toml.replace(/(binding = "REVOCATIONS"\nid = )"[^"]*"/, `$1"${step.value}"`);
      writeFileSync("wrangler.toml", next);
      continue;
    }
    let input;
    let argv = step.argv;
    if (step.kind === "secret") {
      input = GENERATE[step.name]();
      argv = ["secret", "put", step.name];
    }
    console.log(`  wrangler ${argv.join(" ")}`);
    const result = wrangler(argv, input);
    if (!result.ok) {
      console.error(result.stdout, result.stderr);
      process.exit(1);
    }
    if (step.kind === "secret" && step.name === "ADMIN_TOKEN") {
      console.log(`  ADMIN_TOKEN (shown this once; keep it in your secret store): ${input}`);
    }
  }
  // A plan with no creations ends with the deploy: done.
  if (steps.at(-1)?.kind === "run" && steps.at(-1).argv[0] === "deploy") {
    console.log("deployed.");
    process.exit(0);
  }
}
console.error("deploy: the account did not converge after 4 rounds; see the steps above");
process.exit(1);
