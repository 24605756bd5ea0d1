import { companyLedger } from "../company/ledger";
import type { Env } from "../config/env";
import { totpKeyring } from "../config/keyrings";
import { resealedCredentials } from "../connectors/store";
import { resealConnectorCredentials } from "../db/connector-writes";
import { unmeteredD1 } from "../db/meter";
import { UNKNOWN_SEALING_KEY } from "../db/writes";
import { ADMIN_ACTOR, EVENT } from "../domain/audit-events";
import { identityObjectOf } from "../identity/directory";
import { sealingKeyId } from "../identity/enrolment";

/**
 * Retiring a key of TOTP_ENCRYPTION_KEYS: how many sealed secrets each key still seals, and the
 * sweep that seals them again under the current key. Both read D1 only to find them: the
 * identities' TOTP secrets through `identities.totp_key_id` and `totp_pending_key_id` (which
 * each identity's object keeps right through its outbox), connectors' credentials by the key id
 * their seal names. D1 hears of an identity's changes through the writes queue, within seconds:
 * the counts are what D1 knew when asked.
 */

/** Identity objects the sweep asks at once. */
const IDENTITY_CONCURRENCY = 8;
/** Connectors the sweep re-seals at once (each is a call to its company's ledger object and a D1 read). */
const CONNECTOR_CONCURRENCY = 4;
/** Failures a sweep's answer lists (it counts them all). */
const FAILURES_LISTED = 50;

/** The key id a connector's sealed credentials name (`v1.<keyId>.<iv>.<ct>`), in SQL; NULL when they are no seal. */
const CONNECTOR_KEY_ID = `(CASE WHEN substr(credentials, 1, 3) = 'v1.' AND instr(substr(credentials, 4), '.') > 1
  THEN substr(credentials, 4, instr(substr(credentials, 4), '.') - 1) END)`;

export interface TotpKeyCount {
  key_id: string;
  current: boolean;
  in_keyring: boolean;
  totp_secrets: number;
  connector_credentials: number;
  retirable: boolean;
}

export interface TotpKeyReport {
  current_key_id: string;
  keys: TotpKeyCount[];
  totp_secrets_unknown: number;
  connector_credentials_unknown: number;
}

/**
 * Per key id, the sealed secrets D1 says it seals: identities' TOTP secrets (active and pending
 * each count) and live connectors' credentials. Every key of the keyring is listed, then any
 * other key id something is sealed under (a key removed too early). A key is retirable when it
 * is not the current one, seals nothing, and no secret's key is unknown.
 */
export async function totpKeyReport(env: Env): Promise<TotpKeyReport> {
  const keyring = totpKeyring(env);
  // Read apart from the meter (see db/meter.ts), like the other admin reports.
  const db = unmeteredD1(env.DB);
  const [identities, connectors] = await db.batch<{ key_id: string | null; n: number }>([
    db.prepare(
      `SELECT key_id, sum(n) AS n FROM (
        SELECT totp_key_id AS key_id, count(*) AS n FROM identities WHERE totp_key_id IS NOT NULL GROUP BY totp_key_id
        UNION ALL
        SELECT totp_pending_key_id AS key_id, count(*) AS n FROM identities
        WHERE totp_pending_key_id IS NOT NULL GROUP BY totp_pending_key_id
      ) GROUP BY key_id`,
    ),
    db.prepare(
      `SELECT ${CONNECTOR_KEY_ID} AS key_id, count(*) AS n FROM connectors WHERE deleted_at IS NULL GROUP BY 1`,
    ),
  ]);
  const totp = countsByKey(identities?.results ?? []);
  const credentials = countsByKey(connectors?.results ?? []);
  const totpUnknown = totp.get(UNKNOWN_SEALING_KEY) ?? 0;
  const credentialsUnknown = credentials.get(null) ?? 0;
  const listed = [...keyring.keys.keys()];
  const others = [...new Set([...totp.keys(), ...credentials.keys()])]
    .filter((id): id is string => id !== null && id !== UNKNOWN_SEALING_KEY && !keyring.keys.has(id))
    .sort();
  const keys = [...listed, ...others].map((keyId): TotpKeyCount => {
    const totpSecrets = totp.get(keyId) ?? 0;
    const connectorCredentials = credentials.get(keyId) ?? 0;
    const current = keyId === keyring.currentId;
    return {
      key_id: keyId,
      current,
      in_keyring: keyring.keys.has(keyId),
      totp_secrets: totpSecrets,
      connector_credentials: connectorCredentials,
      retirable:
        !current &&
        keyring.keys.has(keyId) &&
        totpSecrets === 0 &&
        connectorCredentials === 0 &&
        totpUnknown === 0 &&
        credentialsUnknown === 0,
    };
  });
  return {
    current_key_id: keyring.currentId,
    keys,
    totp_secrets_unknown: totpUnknown,
    connector_credentials_unknown: credentialsUnknown,
  };
}

function countsByKey(rows: readonly { key_id: string | null; n: number }[]): Map<string | null, number> {
  return new Map(rows.map((row) => [row.key_id, Number(row.n)]));
}

export interface SweepFailure {
  kind: "identity" | "connector";
  id: string;
  reason: string;
}

export interface TotpKeySweep {
  current_key_id: string;
  totp: { visited: number; resealed: number; already_current: number; failed: number; remaining: number };
  connectors: { visited: number; resealed: number; failed: number; remaining: number };
  failures: SweepFailure[];
}

/**
 * One round of the sweep: up to `limit` holders of secrets sealed under an older key of the
 * keyring (live connectors first, they are few, then identities), each sealed again under the
 * current key, then what D1 says remains. Identities are re-sealed by their own objects (the
 * authority on their secrets), which apply D1's record of their keys before they answer, and
 * which D1 knows no key of yet ('?', enrolled before migration 0005) are visited so it learns
 * them. Connectors are re-sealed with a compare-and-set in D1, with their audit event, through
 * their company's ledger object. Secrets under a key no longer in the keyring cannot be opened,
 * so they are not visited; they stay in `remaining` (and in the report, `in_keyring: false`).
 */
export async function sweepTotpKeys(env: Env, limit: number, nowMs: number, requestId: string): Promise<TotpKeySweep> {
  const keyring = totpKeyring(env);
  const older = [...keyring.keys.keys()].filter((id) => id !== keyring.currentId);
  const failures: SweepFailure[] = [];
  let failureCount = 0;
  const fail = (kind: SweepFailure["kind"], id: string, reason: string) => {
    failureCount += 1;
    if (failures.length < FAILURES_LISTED) failures.push({ kind, id, reason });
    console.error(
      JSON.stringify({ level: "error", msg: "totp key sweep: not re-sealed", request_id: requestId, kind, id, reason }),
    );
  };

  const connectorRows = (
    await env.DB.prepare(
      `SELECT id, company_id, credentials FROM connectors
       WHERE deleted_at IS NULL AND ${CONNECTOR_KEY_ID} IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?`,
    )
      .bind(JSON.stringify(older), limit)
      .all<{ id: string; company_id: string; credentials: string }>()
  ).results;
  const connectors = { visited: connectorRows.length, resealed: 0, failed: 0, remaining: 0 };
  await eachAtMost(connectorRows, CONNECTOR_CONCURRENCY, async (row) => {
    const outcome = await resealConnector(env, row, nowMs, requestId).catch((error: unknown) => String(error));
    if (outcome === "resealed") connectors.resealed += 1;
    else if (outcome !== "changed") {
      connectors.failed += 1;
      fail("connector", row.id, outcome);
    }
  });

  const identityRows = (
    await env.DB.prepare(
      `SELECT id FROM identities
       WHERE (totp_key_id IN (SELECT value FROM json_each(?1)) OR totp_pending_key_id IN (SELECT value FROM json_each(?1)))
         AND (totp_key_id IS NULL OR totp_key_id IN (SELECT value FROM json_each(?2)))
         AND (totp_pending_key_id IS NULL OR totp_pending_key_id IN (SELECT value FROM json_each(?2)))
       ORDER BY id LIMIT ?3`,
    )
      .bind(
        JSON.stringify([...older, UNKNOWN_SEALING_KEY]),
        JSON.stringify([...keyring.keys.keys(), UNKNOWN_SEALING_KEY]),
        Math.max(0, limit - connectorRows.length),
      )
      .all<{ id: string }>()
  ).results;
  const totp = { visited: identityRows.length, resealed: 0, already_current: 0, failed: 0, remaining: 0 };
  await eachAtMost(identityRows, IDENTITY_CONCURRENCY, async ({ id }) => {
    const object = identityObjectOf(env, id);
    const result = object
      ? await object
          .resealSecrets(id, nowMs, { actor: ADMIN_ACTOR, requestId })
          .catch((error: unknown) => `the identity's object failed: ${String(error)}`)
      : "not_found";
    if (result === "resealed") totp.resealed += 1;
    else if (result === "current") totp.already_current += 1;
    else {
      totp.failed += 1;
      fail("identity", id, result === "failed" ? "its secrets did not open (see the log)" : result);
    }
  });

  const [identitiesLeft, connectorsLeft] = await env.DB.batch<{ n: number }>([
    env.DB.prepare(
      // Any key but the current one (NULL compares as neither): ranges of the two partial indexes, no table scan.
      `SELECT count(*) AS n FROM identities
       WHERE totp_key_id < ?1 OR totp_key_id > ?1 OR totp_pending_key_id < ?1 OR totp_pending_key_id > ?1`,
    ).bind(keyring.currentId),
    env.DB.prepare(
      `SELECT count(*) AS n FROM connectors WHERE deleted_at IS NULL AND coalesce(${CONNECTOR_KEY_ID}, '') <> ?`,
    ).bind(keyring.currentId),
  ]);
  totp.remaining = Number(identitiesLeft?.results[0]?.n ?? 0);
  connectors.remaining = Number(connectorsLeft?.results[0]?.n ?? 0);
  console.log(
    JSON.stringify({
      level: "info",
      msg: "totp key sweep",
      request_id: requestId,
      current_key_id: keyring.currentId,
      totp,
      connectors,
      failures: failureCount,
    }),
  );
  return { current_key_id: keyring.currentId, totp, connectors, failures };
}

/**
 * Seals one connector's credentials again and records it in its company's chain, write and event
 * together (the ledger applies the write to D1 before it answers, unless D1 fails, when its alarm
 * retries). The write is a compare-and-set, so what D1 holds afterwards says what happened.
 */
async function resealConnector(
  env: Env,
  row: { id: string; company_id: string; credentials: string },
  nowMs: number,
  requestId: string,
): Promise<"resealed" | "changed" | string> {
  const sealed = await resealedCredentials(env, row);
  await companyLedger(env, row.company_id).record(row.company_id, nowMs, {
    writes: [resealConnectorCredentials(row.id, row.credentials, sealed)],
    events: [
      {
        type: EVENT.connectorResealed,
        outcome: "success",
        actor: ADMIN_ACTOR,
        request_id: requestId,
        metadata: { connector_id: row.id, from_key_id: sealingKeyId(row.credentials), key_id: sealingKeyId(sealed) },
      },
    ],
  });
  const now = await env.DB.prepare("SELECT credentials FROM connectors WHERE id = ?")
    .bind(row.id)
    .first<{ credentials: string }>();
  if (now?.credentials === sealed) return "resealed";
  if (now?.credentials === row.credentials) return "not applied to D1 yet (its company's ledger retries)";
  // Sealed again meanwhile (a sweep running at the same time): nothing left to do.
  return "changed";
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
async function eachAtMost<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      const index = next;
      next += 1;
      const item = items[index];
      if (index >= items.length || item === undefined) return;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}
