import { DurableObject } from "cloudflare:workers";
import type { Env } from "../config/env";
import { VELOCITY_WINDOW_MS } from "../domain/risk/signals";

/** How long a fraudulent mark from feedback lasts on an IP. */
export const FRAUD_MARK_MS = 30 * 86_400_000;

/**
 * One Durable Object per (company, IP): the identities the IP touched within the velocity window
 * (the password-spray pattern) and whether the company reported it fraudulent. Called in parallel
 * with nothing else for the IP, it serializes its own count; when the window has passed and no
 * fraud mark stands, its alarm deletes everything, so no object keeps state it no longer needs.
 */
export class IpWatch extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS seen (identity_id TEXT PRIMARY KEY, last_seen_ms INTEGER NOT NULL)");
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS mark (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), fraudulent_until_ms INTEGER NOT NULL)",
    );
  }

  /** Records that `identityId` was assessed from this IP at `nowMs`; answers what the IP has done. */
  async touch(identityId: string, nowMs: number): Promise<{ identitiesInWindow: number; reportedFraudulent: boolean }> {
    const state = this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM seen WHERE last_seen_ms < ?", nowMs - VELOCITY_WINDOW_MS);
      this.sql.exec(
        "INSERT INTO seen (identity_id, last_seen_ms) VALUES (?, ?) ON CONFLICT (identity_id) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
        identityId,
        nowMs,
      );
      return {
        identitiesInWindow: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM seen").one().n,
        reportedFraudulent: this.fraudulentAt(nowMs),
      };
    });
    await this.ensureExpiry(nowMs);
    return state;
  }

  /** Feedback: the company reported this IP fraudulent. */
  async markFraudulent(nowMs: number): Promise<void> {
    this.sql.exec(
      "INSERT INTO mark (singleton, fraudulent_until_ms) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET fraudulent_until_ms = excluded.fraudulent_until_ms",
      nowMs + FRAUD_MARK_MS,
    );
    await this.scheduleExpiry(nowMs);
  }

  override async alarm(): Promise<void> {
    const nowMs = Date.now();
    this.sql.exec("DELETE FROM seen WHERE last_seen_ms < ?", nowMs - VELOCITY_WINDOW_MS);
    const remaining = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM seen").one().n;
    if (remaining === 0 && !this.fraudulentAt(nowMs)) {
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.scheduleExpiry(nowMs);
  }

  private fraudulentAt(nowMs: number): boolean {
    const mark = this.sql.exec<{ until: number }>("SELECT fraudulent_until_ms AS until FROM mark").toArray()[0];
    return mark !== undefined && mark.until > nowMs;
  }

  /** Makes sure an alarm is set; the alarm itself reschedules while there is something to keep. */
  private async ensureExpiry(nowMs: number): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.scheduleExpiry(nowMs);
  }

  private async scheduleExpiry(nowMs: number): Promise<void> {
    const mark = this.sql.exec<{ until: number }>("SELECT fraudulent_until_ms AS until FROM mark").toArray()[0];
    const seen = this.sql.exec<{ last: number | null }>("SELECT max(last_seen_ms) AS last FROM seen").one().last;
    const due = Math.max(
      seen === null ? nowMs : seen + VELOCITY_WINDOW_MS,
      mark && mark.until > nowMs ? mark.until : 0,
    );
    await this.ctx.storage.setAlarm(Math.max(due, nowMs + 1000));
  }
}

export function ipWatch(env: Env, companyId: string, canonicalIp: string): DurableObjectStub<IpWatch> {
  return env.IP_WATCH.get(env.IP_WATCH.idFromName(JSON.stringify([companyId, canonicalIp])));
}
