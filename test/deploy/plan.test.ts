import { env } from "cloudflare:workers";
/**
 * The deploy planner decides what `npm run deploy` does from wrangler's reports of the account
 * (captured outputs below, in wrangler 4.86's formats). A fresh account, a partly set up one and
 * a fully set up one each get the right steps, and planning again after the steps changes nothing.
 */
import { describe, expect, it } from "vitest";
import {
  type AccountState,
  applyToState,
  PLACEHOLDER_D1_ID,
  PLACEHOLDER_KV_ID,
  planDeploy,
  QUEUES,
  queueListed,
  SECRETS,
  type Step,
} from "../../scripts/deploy-plan";

const WHOAMI = `
 ⛅️ wrangler 4.86.0
───────────────────
Getting User settings...
👋 You are logged in with an OAuth Token, associated with the email sec@acme.example.
┌───────────────────────┬──────────────────────────────────┐
│ Account Name          │ Account ID                       │
├───────────────────────┼──────────────────────────────────┤
│ Acme Security         │ 0123456789abcdef0123456789abcdef │
└───────────────────────┴──────────────────────────────────┘`;
const NOT_LOGGED_IN = "You are not authenticated. Please run `wrangler login`.";
const queuesTable = (names: string[]) =>
  [
    "┌──────────────────────────────────┬────────────────────────────┬─────────┬─────────┬───────────┬───────────┐",
    "│ id                               │ name                       │ created_on │ modified_on │ producers │ consumers │",
    "├──────────────────────────────────┼────────────────────────────┼─────────┼─────────┼───────────┼───────────┤",
    ...names.map(
      (n, i) => `│ ${String(i).padStart(32, "a")} │ ${n} │ 2026-11-01T00:00:00Z │ 2026-11-01T00:00:00Z │ 1 │ 1 │`,
    ),
    "└──────────────────────────────────┴────────────────────────────┴─────────┴─────────┴───────────┴───────────┘",
  ].join("\n");

const D1_ID = "7e1c2b4a-9d3f-4e5a-8b6c-0a1b2c3d4e5f";
const KV_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

const fresh: AccountState = {
  whoami: WHOAMI,
  d1: [{ uuid: "11111111-2222-3333-4444-555555555555", name: "someone-elses-db" }],
  kv: [],
  queuesTable: queuesTable([]),
  secrets: null,
  config: { d1Id: PLACEHOLDER_D1_ID, kvId: PLACEHOLDER_KV_ID },
};
const complete: AccountState = {
  whoami: WHOAMI,
  d1: [{ uuid: D1_ID, name: "hld-identity" }],
  kv: [{ id: KV_ID, title: "hld-identity-revocations" }],
  queuesTable: queuesTable([...QUEUES]),
  secrets: SECRETS.map((name) => ({ name })),
  config: { d1Id: D1_ID, kvId: KV_ID },
};

const summary = (steps: Step[]) =>
  steps.map((s) =>
    s.kind === "run"
      ? s.argv.join(" ")
      : s.kind === "config"
        ? `config ${s.key}=${s.value}`
        : s.kind === "secret"
          ? `secret ${s.name}`
          : "stop",
  );
let counter = 0;
const newId = (kind: string) => (kind === "d1" ? D1_ID : kind === "kv" ? KV_ID : `q${counter++}`);

/** Plans and applies until only the always-run steps are left; answers every plan. */
function converge(state: AccountState): string[][] {
  const plans: string[][] = [];
  let current = state;
  for (let i = 0; i < 5; i++) {
    const steps = planDeploy(current);
    plans.push(summary(steps));
    if (
      steps.every(
        (s) => s.kind === "run" && ["d1 migrations apply DB --remote", "deploy --minify"].includes(s.argv.join(" ")),
      )
    ) {
      break;
    }
    current = applyToState(current, steps, newId);
  }
  return plans;
}

describe("the deploy planner", () => {
  it("stops when wrangler is not logged in", () => {
    expect(planDeploy({ ...fresh, whoami: NOT_LOGGED_IN })).toEqual([
      { kind: "stop", why: expect.stringContaining("wrangler login") },
    ]);
  });

  it("sets up a fresh account: resources, then ids, migrations, secrets (creating the Worker), deploy", () => {
    expect(converge(fresh)).toEqual([
      [
        "d1 create hld-identity",
        "kv namespace create hld-identity-revocations",
        ...QUEUES.map((q) => `queues create ${q}`),
      ],
      [
        `config d1Id=${D1_ID}`,
        `config kvId=${KV_ID}`,
        "d1 migrations apply DB --remote",
        ...SECRETS.map((s) => `secret ${s}`),
        "deploy --minify",
      ],
      ["d1 migrations apply DB --remote", "deploy --minify"],
    ]);
  });

  it("finishes a partly set up account without touching what exists", () => {
    const partly: AccountState = {
      ...complete,
      kv: [],
      queuesTable: queuesTable(["hld-identity-d1-writes", "hld-identity-d1-writes-dlq"]),
      secrets: [{ name: "ADMIN_TOKEN" }, { name: "BACKUP_CODE_PEPPER" }],
      config: { d1Id: D1_ID, kvId: PLACEHOLDER_KV_ID },
    };
    expect(converge(partly)).toEqual([
      [
        "kv namespace create hld-identity-revocations",
        "queues create hld-identity-connector-deliveries",
        "queues create hld-identity-connector-deliveries-dlq",
      ],
      [
        `config kvId=${KV_ID}`,
        "d1 migrations apply DB --remote",
        "secret TOTP_ENCRYPTION_KEYS",
        "secret SESSION_SIGNING_KEY",
        "deploy --minify",
      ],
      ["d1 migrations apply DB --remote", "deploy --minify"],
    ]);
  });

  it("on a fully set up account only applies migrations and deploys, however often it runs", () => {
    const once = planDeploy(complete);
    expect(summary(once)).toEqual(["d1 migrations apply DB --remote", "deploy --minify"]);
    const again = applyToState(complete, once, newId);
    expect(again).toEqual(complete);
    expect(planDeploy(again)).toEqual(once);
  });

  it("puts exactly the secrets wrangler.toml requires (deploy refuses without them)", () => {
    const required = /\[secrets\]\s*required\s*=\s*\[([^\]]*)\]/.exec(env.TEST_WRANGLER_TOML)?.[1] ?? "";
    expect([...SECRETS].sort()).toEqual([...required.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort());
  });

  it("reads the queues table by whole name: a dead-letter queue is not its main queue", () => {
    const table = queuesTable(["hld-identity-d1-writes-dlq"]);
    expect(queueListed(table, "hld-identity-d1-writes-dlq")).toBe(true);
    expect(queueListed(table, "hld-identity-d1-writes")).toBe(false);
  });
});
