import { DurableObject } from "cloudflare:workers";
import { ChainLedger, type EventInput } from "./audit/chain-ledger";
import { D1Outbox } from "./audit/outbox";
import { isoTime, newId } from "./domain/ids";
import type { Env } from "./env";

/**
 * One Durable Object per identity, named by (company, external_id): the place where the
 * identity's state that needs compare-and-set lives, and the single writer of the identity's
 * audit chain. Its SQLite storage is read and written synchronously inside each method, so
 * every decision about one identity is serialized. Hot paths (profile, verify, introspect)
 * answer from here without touching D1; D1 receives the identity row and the audit events
 * through the outbox.
 */

export type IdentityStatus = "active" | "disabled";

export interface IdentityRecord {
  id: string;
  company_id: string;
  external_id: string;
  status: IdentityStatus;
  created_at: string;
}

export interface Profile {
  id: string;
  external_id: string;
  status: IdentityStatus;
  has_otp: boolean;
  has_passkeys: boolean;
  is_locked: boolean;
  failed_attempts: number;
  saas_client_id: string;
  backup_codes_remaining: number;
  locked_until: string | null;
  mfa_challenge_required_from: string | null;
  created_at: string;
}

export interface RequestMeta {
  actor: string;
  requestId: string;
  ip?: string | null;
}

type IdentityRow = {
  id: string;
  company_id: string;
  external_id: string;
  status: string;
  created_at: string;
};

export class IdentityGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly outbox: D1Outbox;
  private readonly ledger: ChainLedger;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS identity (
      singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
      id TEXT NOT NULL,
      company_id TEXT NOT NULL,
      external_id TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`);
    this.outbox = new D1Outbox(this.sql, ctx.storage);
    this.ledger = new ChainLedger(this.sql, this.outbox);
  }

  /** Creates the identity unless it exists; the answer says which. Audited, flushed to D1. */
  async provision(
    companyId: string,
    externalId: string,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ created: true; identity: IdentityRecord } | { created: false }> {
    if (this.identity()) return { created: false };
    const identity: IdentityRecord = {
      id: newId("idn", nowMs),
      company_id: companyId,
      external_id: externalId,
      status: "active",
      created_at: isoTime(nowMs),
    };
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO identity (singleton, id, company_id, external_id, status, created_at) VALUES (1, ?, ?, ?, ?, ?)",
        identity.id,
        identity.company_id,
        identity.external_id,
        identity.status,
        identity.created_at,
      );
      this.outbox.enqueue(
        "INSERT OR IGNORE INTO identities (id, company_id, external_id, status, created_at) VALUES (?, ?, ?, ?, ?)",
        [identity.id, identity.company_id, identity.external_id, identity.status, identity.created_at],
      );
      this.audit(identity, nowMs, meta, {
        type: "identity.provisioned",
        outcome: "success",
        metadata: { external_id: externalId },
      });
    });
    await this.flushSoon(nowMs, { wait: true });
    return { created: true, identity };
  }

  /** The live security profile, or null when this identity was never provisioned. */
  async profile(): Promise<Profile | null> {
    const identity = this.identity();
    if (!identity) return null;
    return {
      id: identity.id,
      external_id: identity.external_id,
      status: identity.status,
      has_otp: false,
      has_passkeys: false,
      is_locked: false,
      failed_attempts: 0,
      saas_client_id: identity.company_id,
      backup_codes_remaining: 0,
      locked_until: null,
      mfa_challenge_required_from: null,
      created_at: identity.created_at,
    };
  }

  override async alarm(): Promise<void> {
    await this.outbox.flush(this.env.DB);
  }

  private identity(): IdentityRecord | null {
    const row = this.sql
      .exec<IdentityRow>("SELECT id, company_id, external_id, status, created_at FROM identity WHERE singleton = 1")
      .toArray()[0];
    if (!row) return null;
    return { ...row, status: row.status === "disabled" ? "disabled" : "active" };
  }

  private audit(identity: IdentityRecord, nowMs: number, meta: RequestMeta, input: EventInput): void {
    this.ledger.append(identity.company_id, identity.id, nowMs, {
      identity_id: identity.id,
      actor: meta.actor,
      request_id: meta.requestId,
      ip: meta.ip ?? null,
      ...input,
    });
  }

  /**
   * Schedules the D1 replay. Off the hot path callers wait for it so their writes are
   * readable when they answer; on the hot path the alarm does it right after.
   */
  private async flushSoon(nowMs: number, options: { wait: boolean }): Promise<void> {
    await this.outbox.scheduleFlush(nowMs);
    if (!options.wait) return;
    await this.outbox.flush(this.env.DB).catch((error: unknown) => {
      console.error("identity guard: D1 flush failed, alarm will retry", String(error));
    });
  }
}

export function identityGuard(env: Env, companyId: string, externalId: string): DurableObjectStub<IdentityGuard> {
  return env.IDENTITY_GUARD.get(env.IDENTITY_GUARD.idFromName(JSON.stringify([companyId, externalId])));
}
