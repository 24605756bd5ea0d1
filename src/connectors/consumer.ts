import { companyLedger } from "../company/ledger";
import type { Env } from "../config/env";
import { settleDelivery } from "../db/connector-writes";
import { EVENT } from "../domain/audit-events";
import { isoTime } from "../domain/ids";
import type { EventInput } from "../ledger/hash-chain";
import { deliverOnce, type TryOutcome } from "./deliver";
import { backoffSeconds, type ConnectorType, type DeliveredAction } from "./providers";
import { type ConnectorRow, openConnector } from "./store";

/** A queue message: carry this delivery (its state is in D1's action_deliveries). */
export interface DeliveryMessage {
  v: 1;
  delivery_id: string;
}

/** Tries of one delivery before it fails for good (about 8 minutes with the backoff). */
export const MAX_TRIES = 8;
/** How long a provider call may take before it counts as a timeout. */
export const PROVIDER_TIMEOUT_MS = 10_000;
/** The wait before looking again at a delivery queued behind an earlier one, or held by another consumer. */
const WAIT_SECONDS = 3;

interface DeliveryRow {
  id: string;
  company_id: string;
  action_id: string;
  identity_id: string;
  connector_id: string;
  connector_type: ConnectorType;
  action_type: string;
  sequence: number;
  provider_user_id: string;
  status: string;
  attempts: number;
  created_at: string;
  claimed_until_ms: number;
}

export function parseDeliveryMessage(body: unknown): DeliveryMessage | null {
  if (typeof body !== "object" || body === null) return null;
  const { v, delivery_id } = body as Record<string, unknown>;
  return v === 1 && typeof delivery_id === "string" && delivery_id.length <= 64 ? { v, delivery_id } : null;
}

type Timing = { timeoutMs: number; fetch?: (input: string, init: RequestInit) => Promise<Response> };

/**
 * The deliveries queue's consumer. Each message is one try of one delivery: a delivery queued
 * behind an earlier unfinished one of the same identity and connector waits (so an enable never
 * overtakes the disable before it), a claim in D1 keeps two consumers from running the same one,
 * and the outcome, its attempt count and its audit event are written together by the company's
 * ledger. A retryable failure comes back after an exponential backoff until MAX_TRIES.
 */
export async function consumeDeliveries(
  env: Env,
  batch: MessageBatch<unknown>,
  nowMs: () => number,
  timing: Timing = { timeoutMs: PROVIDER_TIMEOUT_MS },
): Promise<void> {
  for (const message of batch.messages) {
    const parsed = parseDeliveryMessage(message.body);
    if (!parsed) {
      console.error(JSON.stringify({ level: "error", msg: "connector deliveries: unreadable message dropped" }));
      message.ack();
      continue;
    }
    try {
      const next = await runDelivery(env, parsed.delivery_id, nowMs, timing);
      if (next === null) message.ack();
      else message.retry({ delaySeconds: next });
    } catch (error) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "connector deliveries: try failed",
          delivery: parsed.delivery_id,
          error: String(error),
        }),
      );
      message.retry({ delaySeconds: WAIT_SECONDS });
    }
  }
}

/** One try; answers null when the delivery is over, or the seconds to wait before the next look. */
async function runDelivery(env: Env, deliveryId: string, nowMs: () => number, timing: Timing): Promise<number | null> {
  const db = env.DB;
  const row = await db.prepare("SELECT * FROM action_deliveries WHERE id = ?").bind(deliveryId).first<DeliveryRow>();
  if (!row || row.status !== "pending") return null;
  const earlier = await db
    .prepare(
      "SELECT 1 AS n FROM action_deliveries WHERE identity_id = ? AND connector_id = ? AND status = 'pending' AND sequence < ? LIMIT 1",
    )
    .bind(row.identity_id, row.connector_id, row.sequence)
    .first();
  if (earlier) return WAIT_SECONDS;
  const startMs = nowMs();
  const claim = await db
    .prepare(
      "UPDATE action_deliveries SET claimed_until_ms = ? WHERE id = ? AND status = 'pending' AND claimed_until_ms < ?",
    )
    .bind(startMs + 3 * timing.timeoutMs + 30_000, row.id, startMs)
    .run();
  if (claim.meta.changes !== 1) return WAIT_SECONDS;

  const connector = await db
    .prepare("SELECT * FROM connectors WHERE id = ?")
    .bind(row.connector_id)
    .first<ConnectorRow>();
  let outcome: TryOutcome;
  if (!connector || connector.deleted_at !== null) {
    outcome = { status: "failed", error: "the connector was deleted" };
  } else {
    outcome = await deliverOnce(
      await openConnector(env, connector),
      row.action_type as DeliveredAction,
      row.provider_user_id,
      startMs,
      timing,
    );
  }
  const attempts = row.attempts + 1;
  const status =
    outcome.status === "delivered"
      ? "delivered"
      : outcome.status === "retry" && attempts < MAX_TRIES
        ? "pending"
        : "failed";
  const error = outcome.status === "delivered" ? null : outcome.error;
  const at = nowMs();
  const metadata = {
    delivery_id: row.id,
    action_id: row.action_id,
    action_type: row.action_type,
    connector_id: row.connector_id,
    connector_type: row.connector_type,
    attempt: attempts,
    status,
    ...(error ? { error } : {}),
  };
  const events: EventInput[] = [
    {
      type: EVENT.connectorDelivery,
      outcome: outcome.status === "delivered" ? "success" : "failure",
      identity_id: row.identity_id,
      actor: "connector-deliveries",
      reason: error,
      metadata,
    },
  ];
  if (status === "failed") {
    events.push({
      type: EVENT.connectorDeliveryFailed,
      outcome: "failure",
      identity_id: row.identity_id,
      actor: "connector-deliveries",
      reason: error,
      metadata,
    });
    console.error(JSON.stringify({ level: "error", msg: "connector delivery failed for good", ...metadata }));
  }
  await companyLedger(env, row.company_id).record(row.company_id, at, {
    writes: [settleDelivery(row.id, status, attempts, error, isoTime(at))],
    events,
  });
  return status === "pending" ? backoffSeconds(attempts) : null;
}

/**
 * The dead-letter queue's consumer: a delivery whose messages kept failing (D1 or the ledger
 * down, not the provider: provider failures end in D1 long before) is marked failed, loudly.
 */
export async function consumeDeadDeliveries(
  env: Env,
  batch: MessageBatch<unknown>,
  nowMs: () => number,
): Promise<void> {
  for (const message of batch.messages) {
    const parsed = parseDeliveryMessage(message.body);
    const row = parsed
      ? await env.DB.prepare("SELECT * FROM action_deliveries WHERE id = ?")
          .bind(parsed.delivery_id)
          .first<DeliveryRow>()
      : null;
    console.error(
      JSON.stringify({
        level: "error",
        msg: "connector deliveries: dead letter",
        delivery: parsed?.delivery_id ?? null,
      }),
    );
    if (row && row.status === "pending") {
      const at = nowMs();
      const error = "gave up: the delivery's messages failed every retry";
      await companyLedger(env, row.company_id).record(row.company_id, at, {
        writes: [settleDelivery(row.id, "failed", row.attempts + 1, error, isoTime(at))],
        events: [
          {
            type: EVENT.connectorDeliveryFailed,
            outcome: "failure",
            identity_id: row.identity_id,
            actor: "connector-deliveries",
            reason: error,
            metadata: { delivery_id: row.id, action_id: row.action_id, connector_id: row.connector_id },
          },
        ],
      });
    }
    message.ack();
  }
}

/** Pending deliveries nobody holds and no message moved for a while: sent again by the cron. */
export async function sweepDeliveries(env: Env, nowMs: number): Promise<number> {
  const { results } = await env.DB.prepare(
    "SELECT id FROM action_deliveries WHERE status = 'pending' AND claimed_until_ms < ? AND updated_at < ? ORDER BY created_at LIMIT 100",
  )
    .bind(nowMs, isoTime(nowMs - 10 * 60_000))
    .all<{ id: string }>();
  if (results.length > 0) {
    await env.CONNECTOR_DELIVERIES.sendBatch(results.map((r) => ({ body: { v: 1, delivery_id: r.id } })));
  }
  return results.length;
}
