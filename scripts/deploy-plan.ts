/**
 * The deploy planner (`npm run deploy`, scripts/deploy.mjs): from what wrangler reports about
 * the account (whoami, `d1 list --json`, `kv namespace list`, `queues list`, `secret list`) and
 * the ids in wrangler.toml, decides the steps that make the account match the config. Pure, so
 * tests check its decisions on captured outputs; the script gathers, plans, runs the steps and
 * plans again until nothing is left to create. Safe to run again: everything it creates is
 * looked up by name first, and migrations and deploy are themselves idempotent.
 */

export const D1_NAME = "hld-identity";
export const KV_TITLE = "hld-identity-revocations";
export const QUEUES = [
  "hld-identity-d1-writes",
  "hld-identity-d1-writes-dlq",
  "hld-identity-connector-deliveries",
  "hld-identity-connector-deliveries-dlq",
] as const;
/** Every secret the Worker reads (the README's configuration table). */
export const SECRETS = ["ADMIN_TOKEN", "TOTP_ENCRYPTION_KEYS", "BACKUP_CODE_PEPPER", "SESSION_SIGNING_KEY"] as const;
/** The placeholders wrangler.toml ships with, replaced by the real ids. */
export const PLACEHOLDER_D1_ID = "00000000-0000-0000-0000-000000000000";
export const PLACEHOLDER_KV_ID = "00000000000000000000000000000000";

export interface AccountState {
  /** `wrangler whoami`'s output. */
  whoami: string;
  /** `wrangler d1 list --json`: the D1 API's database objects. */
  d1: { uuid: string; name: string }[];
  /** `wrangler kv namespace list`: the KV API's namespace objects. */
  kv: { id: string; title: string }[];
  /** `wrangler queues list`: a table, one queue per row. */
  queuesTable: string;
  /** `wrangler secret list` (JSON), or null when the Worker does not exist yet. */
  secrets: { name: string }[] | null;
  /** The ids wrangler.toml holds now. */
  config: { d1Id: string; kvId: string };
}

export type Step =
  | { kind: "stop"; why: string }
  | { kind: "run"; argv: string[]; why: string }
  | { kind: "config"; key: "d1Id" | "kvId"; value: string; why: string }
  | { kind: "secret"; name: (typeof SECRETS)[number]; why: string };

/** The steps, in order. Creations come first; the script runs them, gathers again and re-plans. */
export function planDeploy(state: AccountState): Step[] {
  if (/not authenticated|not logged in/i.test(state.whoami) || !/account/i.test(state.whoami)) {
    return [{ kind: "stop", why: "wrangler is not logged in: run `npx wrangler login` or set CLOUDFLARE_API_TOKEN" }];
  }
  const creations: Step[] = [];
  const database = state.d1.find((db) => db.name === D1_NAME);
  if (!database) creations.push({ kind: "run", argv: ["d1", "create", D1_NAME], why: `no D1 database ${D1_NAME}` });
  const namespace = state.kv.find((ns) => ns.title === KV_TITLE);
  if (!namespace) {
    creations.push({ kind: "run", argv: ["kv", "namespace", "create", KV_TITLE], why: `no KV namespace ${KV_TITLE}` });
  }
  for (const queue of QUEUES) {
    if (!queueListed(state.queuesTable, queue)) {
      creations.push({ kind: "run", argv: ["queues", "create", queue], why: `no queue ${queue}` });
    }
  }
  // Ids are known only once the resources exist: create first, then plan again.
  if (creations.length > 0) return creations;

  const steps: Step[] = [];
  if (database && state.config.d1Id !== database.uuid) {
    steps.push({ kind: "config", key: "d1Id", value: database.uuid, why: "wrangler.toml names another D1 database" });
  }
  if (namespace && state.config.kvId !== namespace.id) {
    steps.push({ kind: "config", key: "kvId", value: namespace.id, why: "wrangler.toml names another KV namespace" });
  }
  steps.push({
    kind: "run",
    argv: ["d1", "migrations", "apply", "DB", "--remote"],
    why: "apply the migrations D1 lacks",
  });
  // Secrets before the deploy: wrangler.toml lists them as required, so `wrangler deploy` refuses
  // to ship without them. On an account without the Worker, the first `secret put` creates it
  // (an empty draft, wrangler's own behaviour when not interactive).
  const present = new Set((state.secrets ?? []).map((s) => s.name));
  const missing = SECRETS.filter((name) => !present.has(name));
  for (const name of missing) steps.push({ kind: "secret", name, why: `secret ${name} is not set` });
  steps.push({ kind: "run", argv: ["deploy", "--minify"], why: "deploy the Worker" });
  return steps;
}

/** Whether the `queues list` table has a row whose name cell is exactly `name`. */
export function queueListed(table: string, name: string): boolean {
  return table.split("\n").some((line) =>
    line
      .split(/[│|]/)
      .map((cell) => cell.trim())
      .includes(name),
  );
}

/** What a plan's steps change in the account and config, for tests ("running it again changes nothing"). */
export function applyToState(state: AccountState, steps: Step[], newId: (kind: string) => string): AccountState {
  const next: AccountState = {
    ...state,
    d1: [...state.d1],
    kv: [...state.kv],
    secrets: state.secrets ? [...state.secrets] : null,
    config: { ...state.config },
  };
  for (const step of steps) {
    if (step.kind === "run" && step.argv[0] === "d1" && step.argv[1] === "create") {
      next.d1.push({ uuid: newId("d1"), name: step.argv[2] as string });
    } else if (step.kind === "run" && step.argv[0] === "kv") {
      next.kv.push({ id: newId("kv"), title: step.argv[3] as string });
    } else if (step.kind === "run" && step.argv[0] === "queues") {
      next.queuesTable += `\n│ ${newId("queue")} │ ${step.argv[2]} │ now │ now │ 0 │ 0 │`;
    } else if (step.kind === "config") {
      next.config[step.key] = step.value;
    } else if (step.kind === "secret") {
      next.secrets = [...(next.secrets ?? []), { name: step.name }];
    }
  }
  return next;
}
