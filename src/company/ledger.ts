import { DurableObject } from "cloudflare:workers";
import type { Env } from "../config/env";
import { meteredEnv } from "../db/meter";
import { closeIncident, type D1Write, insertIncident } from "../db/writes";
import type { AuditEvent } from "../domain/audit-chain";
import { EVENT } from "../domain/audit-events";
import { isoTime } from "../domain/ids";
import { applyPolicyChange, DEFAULT_POLICY, type PolicyChange, type RiskPolicy } from "../domain/risk/policy";
import { type EventInput, HashChain } from "../ledger/hash-chain";
import { D1Outbox } from "../ledger/outbox";

/**
 * The single writer of one company's audit chain (company, key, policy and incident events).
 * Named by company id. A company-level change is recorded here as its D1 writes and its audit
 * events together, in one storage transaction: the change and its events are durable at once,
 * or neither is. The writes then reach D1 in order through the outbox (idempotent statements),
 * before the call returns unless D1 failed, in which case the alarm retries. Calls are
 * serialized by the object, so concurrent requests can never fork the chain.
 *
 * It is also the authority on whether an incident is open. An action naming an incident is
 * linked here, in the same serialized place that closes it: a link is refused once the close
 * has begun, `closed_at` is never earlier than an action linked before it, and the close
 * returns only when the actions linked before it have been applied.
 */

export type IncidentSeverity = "low" | "medium" | "high" | "critical";

export interface IncidentRecord {
  id: string;
  title: string;
  severity: IncidentSeverity;
  status: "open" | "closed";
  created_by: string;
  created_at: string;
  closed_at: string | null;
}

type IncidentRow = {
  id: string;
  title: string;
  severity: IncidentSeverity;
  status: string;
  created_by: string;
  created_at: string;
  closed_at: string | null;
  last_linked_at_ms: number | null;
};

/** What linking an action to an incident id found: ours and open (now linked), ours and closed, or not ours. */
export type IncidentLink = "linked" | "closed" | "external";

/** How long a close waits for actions linked before it to finish (a caller that died never does). */
const LINK_SETTLE_TIMEOUT_MS = 10_000;

export class CompanyLedger extends DurableObject<Env> {
  private readonly outbox: D1Outbox;
  private readonly ledger: HashChain;
  /** Actions linked to an incident and still being applied, by incident id (in memory: see closeIncident). */
  private readonly linksInFlight = new Map<string, { count: number; settled: (() => void)[] }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, meteredEnv(env));
    this.outbox = new D1Outbox(ctx.storage.sql, ctx.storage);
    this.ledger = new HashChain(ctx.storage.sql, this.outbox);
    this.outbox.createSchema();
    this.ledger.createSchema();
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS incidents (
      id TEXT PRIMARY KEY,
      title TEXT NOT NULL,
      severity TEXT NOT NULL,
      status TEXT NOT NULL,
      created_by TEXT NOT NULL,
      created_at TEXT NOT NULL,
      closed_at TEXT,
      last_linked_at_ms INTEGER
    )`);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS risk_policy (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), policy TEXT NOT NULL)",
    );
  }

  async record(
    companyId: string,
    nowMs: number,
    change: { writes: D1Write[]; events: EventInput[] },
  ): Promise<AuditEvent[]> {
    const events = this.ctx.storage.transactionSync(() => {
      for (const write of change.writes) this.outbox.enqueue(write);
      return change.events.map((input) => this.ledger.append(companyId, companyId, nowMs, input));
    });
    await this.flush(nowMs);
    return events;
  }

  /** Opens an incident: its state here, its D1 row and its event, durable together. */
  async openIncident(
    companyId: string,
    incident: IncidentRecord,
    nowMs: number,
    meta: { actor: string; requestId: string },
  ): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "INSERT INTO incidents (id, title, severity, status, created_by, created_at) VALUES (?, ?, ?, 'open', ?, ?)",
        incident.id,
        incident.title,
        incident.severity,
        incident.created_by,
        incident.created_at,
      );
      this.outbox.enqueue(
        insertIncident({
          id: incident.id,
          companyId,
          title: incident.title,
          severity: incident.severity,
          createdBy: incident.created_by,
          createdAt: incident.created_at,
        }),
      );
      this.ledger.append(companyId, companyId, nowMs, {
        type: EVENT.incidentCreated,
        outcome: "success",
        actor: meta.actor,
        incident_id: incident.id,
        request_id: meta.requestId,
        metadata: { title: incident.title, severity: incident.severity },
      });
    });
    await this.flush(nowMs);
  }

  /**
   * Links an action timed `atMs` to `incidentId` if it is one of ours and open. A "linked" answer
   * must be followed by `actionSettled` once the action has been applied (or has failed).
   */
  async linkAction(incidentId: string, atMs: number): Promise<IncidentLink> {
    const row = this.incident(incidentId);
    if (!row) return "external";
    if (row.status === "closed") return "closed";
    this.ctx.storage.sql.exec(
      "UPDATE incidents SET last_linked_at_ms = max(coalesce(last_linked_at_ms, 0), ?) WHERE id = ?",
      atMs,
      incidentId,
    );
    const inFlight = this.linksInFlight.get(incidentId) ?? { count: 0, settled: [] };
    inFlight.count++;
    this.linksInFlight.set(incidentId, inFlight);
    return "linked";
  }

  /** The action linked by `linkAction` has been applied, or has failed. */
  async actionSettled(incidentId: string): Promise<void> {
    const inFlight = this.linksInFlight.get(incidentId);
    if (!inFlight) return;
    inFlight.count--;
    if (inFlight.count > 0) return;
    this.linksInFlight.delete(incidentId);
    for (const resolve of inFlight.settled) resolve();
  }

  /**
   * Closes an incident; closing a closed one answers it as it is. From this call on no action
   * links to it. `closed_at` is never before an action already linked, and the call returns once
   * those actions have been applied (or after LINK_SETTLE_TIMEOUT_MS, should their caller have
   * died), so the incident read after it lists them.
   */
  async closeIncident(
    companyId: string,
    incidentId: string,
    nowMs: number,
    meta: { actor: string; requestId: string },
  ): Promise<IncidentRecord | null> {
    const row = this.incident(incidentId);
    if (!row) return null;
    if (row.status === "closed") return recordOf(row);
    const closedAtMs = Math.max(nowMs, row.last_linked_at_ms ?? nowMs);
    const closedAt = isoTime(closedAtMs);
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "UPDATE incidents SET status = 'closed', closed_at = ? WHERE id = ?",
        closedAt,
        incidentId,
      );
      this.outbox.enqueue(closeIncident(incidentId, closedAt));
      this.ledger.append(companyId, companyId, closedAtMs, {
        type: EVENT.incidentClosed,
        outcome: "success",
        actor: meta.actor,
        incident_id: incidentId,
        request_id: meta.requestId,
      });
    });
    await this.linksSettled(incidentId);
    await this.flush(nowMs);
    return { ...recordOf(row), status: "closed", closed_at: closedAt };
  }

  /** The company's Sentinel policy (the defaults until it is first changed). */
  async riskPolicy(): Promise<RiskPolicy> {
    return this.storedPolicy();
  }

  /** Changes the policy (version bumped), audited on the company chain with the old and new values. */
  async updateRiskPolicy(
    companyId: string,
    change: PolicyChange,
    nowMs: number,
    meta: { actor: string; requestId: string },
  ): Promise<ReturnType<typeof applyPolicyChange>> {
    const current = this.storedPolicy();
    const result = applyPolicyChange(current, change, nowMs);
    if (!result.ok) return result;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "INSERT INTO risk_policy (singleton, policy) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET policy = excluded.policy",
        JSON.stringify(result.policy),
      );
      this.ledger.append(companyId, companyId, nowMs, {
        type: EVENT.riskPolicyUpdated,
        outcome: "success",
        actor: meta.actor,
        request_id: meta.requestId,
        metadata: { old: current, new: result.policy },
      });
    });
    await this.flush(nowMs);
    return result;
  }

  override async alarm(): Promise<void> {
    await this.outbox.flush(this.env.DB);
  }

  private storedPolicy(): RiskPolicy {
    const row = this.ctx.storage.sql.exec<{ policy: string }>("SELECT policy FROM risk_policy").toArray()[0];
    return row ? (JSON.parse(row.policy) as RiskPolicy) : DEFAULT_POLICY;
  }

  private incident(incidentId: string): IncidentRow | null {
    return (
      this.ctx.storage.sql.exec<IncidentRow>("SELECT * FROM incidents WHERE id = ?", incidentId).toArray()[0] ?? null
    );
  }

  private linksSettled(incidentId: string): Promise<void> {
    const inFlight = this.linksInFlight.get(incidentId);
    if (!inFlight) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, LINK_SETTLE_TIMEOUT_MS);
      inFlight.settled.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async flush(nowMs: number): Promise<void> {
    await this.outbox.scheduleFlush(nowMs);
    await this.outbox.flush(this.env.DB).catch((error: unknown) => {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "company ledger: D1 flush failed, alarm will retry",
          error: String(error),
        }),
      );
    });
  }
}

function recordOf(row: IncidentRow): IncidentRecord {
  return {
    id: row.id,
    title: row.title,
    severity: row.severity,
    status: row.status === "closed" ? "closed" : "open",
    created_by: row.created_by,
    created_at: row.created_at,
    closed_at: row.closed_at,
  };
}

export function companyLedger(env: Env, companyId: string): DurableObjectStub<CompanyLedger> {
  return env.COMPANY_LEDGER.get(env.COMPANY_LEDGER.idFromName(companyId));
}
