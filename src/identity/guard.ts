import { DurableObject } from "cloudflare:workers";
import type { Env } from "../config/env";
import { totpKeyring } from "../config/keyrings";
import { lockoutPolicy, sessionTtlSeconds } from "../config/settings";
import { meteredEnv } from "../db/meter";
import { generateBackupCodeSalt, generateBackupCodes } from "../domain/backup-codes";
import { canonicalIp, parseIp } from "../domain/risk/network";
import type { RiskPolicy } from "../domain/risk/policy";
import type { IpState, RiskInput } from "../domain/risk/signals";
import { HashChain } from "../ledger/hash-chain";
import { D1Outbox } from "../ledger/outbox";
import { applyIdentityAction } from "./actions";
import { type AssessmentContext, type AssessmentResult, applyFeedback, assessIdentity } from "./assessment";
import { replaceBackupCodes } from "./backup-codes";
import type { IdentityContext } from "./context";
import { identityIdOf, identityObjectOf } from "./directory";
import { openTotpSecrets, resealTotpSecrets, storeTotpSecret } from "./enrolment";
import { profileOf, provisionIdentity } from "./profile";
import { activeSessions, revokeOneSession, sessionStatusOf } from "./sessions";
import { ChangeShipping } from "./shipping";
import { IdentityStore, recordOf } from "./storage";
import type {
  ActionOutcome,
  ActionType,
  DeliveryTarget,
  IdentityRecord,
  IdentityRefusal,
  Profile,
  RequestMeta,
  ResealResult,
  SessionStatus,
  SessionView,
  VerifyOutcome,
} from "./types";
import { clearLockout, decideVerify } from "./verify";

/**
 * One Durable Object per identity, named by (company, external_id): the authority on the
 * identity and on everything about it that needs compare-and-set (failed attempts, lockout, the
 * last accepted TOTP step, backup-code use), and the single writer of the identity's audit chain.
 * Each RPC method reads its row, runs one synchronous storage transaction (a function of the
 * concern's own file: no await inside a decision, so concurrent requests are serialized), then
 * flushes the outbox: D1 receives the identity's rows and events from there, KV its marks.
 */
export class IdentityGuard extends DurableObject<Env> {
  private readonly identity: IdentityContext;
  /** Opened TOTP secrets by their sealed form, so a verify does not decrypt every time. */
  private readonly openedSecrets = new Map<string, string>();
  private hasSchema: boolean;
  /** How each change leaves this object: to D1 through the relays, to KV, and the alarm behind them. */
  private readonly changes: ChangeShipping;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, meteredEnv(env));
    const outbox = new D1Outbox(ctx.storage.sql, ctx.storage);
    this.identity = {
      store: new IdentityStore(ctx.storage.sql),
      outbox,
      chain: new HashChain(ctx.storage.sql, outbox),
      lockout: lockoutPolicy(env),
      sessionTtlSeconds: sessionTtlSeconds(env),
      backupPepper: () => {
        const value = env.BACKUP_CODE_PEPPER;
        if (!value) throw new Error("BACKUP_CODE_PEPPER is not set");
        return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
      },
    };
    // Nothing is written until the identity is provisioned (see IdentityStore.hasSchema).
    this.changes = new ChangeShipping(ctx.storage, this.env, this.identity);
    this.hasSchema = this.identity.store.hasSchema();
    if (this.hasSchema) this.migrate();
  }

  /** Creates the identity unless it exists; the answer says which. Audited, flushed to D1. */
  async provision(
    companyId: string,
    externalId: string,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ created: true; identity: IdentityRecord } | { created: false }> {
    if (this.row()) return { created: false };
    this.migrate();
    const id = identityIdOf(this.ctx.id);
    const identity = this.transaction(() => provisionIdentity(this.identity, id, companyId, externalId, nowMs, meta));
    // No D1 round trip: the identity is durable here and its D1 rows go by the queue. Its id
    // names this object, so Sentinel's routes find it at once (directory.ts).
    await this.flush(nowMs, { d1: "relay", kv: false });
    return { created: true, identity };
  }

  /** Which identity this object holds, when it holds `identityId` (see directory.ts). */
  async whoAmI(identityId: string): Promise<{ companyId: string; externalId: string } | null> {
    const row = this.row();
    return row && row.id === identityId ? { companyId: row.company_id, externalId: row.external_id } : null;
  }

  /** The live security profile at `nowMs`, or null when this identity was never provisioned. */
  async profile(nowMs: number): Promise<Profile | null> {
    const row = this.row();
    return row ? profileOf(this.identity, row, nowMs) : null;
  }

  /** Stores a new TOTP secret, sealed by the caller (see storeTotpSecret). */
  async enrolTotp(
    sealedSecret: string,
    confirm: boolean,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "enrolled"; identity: IdentityRecord } | IdentityRefusal> {
    const row = this.row();
    if (!row) return { result: "not_found" };
    if (recordOf(row).status === "disabled") return { result: "disabled" };
    this.transaction(() => storeTotpSecret(this.identity, row, sealedSecret, confirm, nowMs, meta));
    await this.flush(nowMs, { d1: "relay", kv: false });
    return { result: "enrolled", identity: recordOf(row) };
  }

  /** Replaces the backup codes with a new set of `count`, atomically; returns them this once. */
  async regenerateBackupCodes(
    count: number,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "generated"; codes: string[] } | IdentityRefusal> {
    const row = this.row();
    if (!row) return { result: "not_found" };
    if (recordOf(row).status === "disabled") return { result: "disabled" };
    const codes = generateBackupCodes(count);
    this.transaction(() => replaceBackupCodes(this.identity, row, codes, generateBackupCodeSalt(), nowMs, meta));
    await this.flush(nowMs, { d1: "relay", kv: false });
    return { result: "generated", codes };
  }

  /**
   * Checks a TOTP or backup code. The only await (opening the sealed secrets) comes before the
   * decision; the decision re-reads the state and writes the outcome in one transaction.
   */
  async verifyCode(code: string, nowMs: number, meta: RequestMeta): Promise<VerifyOutcome> {
    for (;;) {
      const before = this.row();
      if (!before) return { result: "not_found" };
      const secrets = await openTotpSecrets(before, totpKeyring(this.env), this.openedSecrets);
      const row = this.row();
      if (!row) return { result: "not_found" };
      // A re-enrolment slipped in while the secrets were being opened: open the new ones.
      if (row.totp_secret !== before.totp_secret || row.totp_pending_secret !== before.totp_pending_secret) continue;
      const outcome = this.transaction(() => decideVerify(this.identity, row, secrets, code, nowMs, meta));
      await Promise.all([this.flush(nowMs, { d1: "relay", kv: false }), this.resealAfterVerify(nowMs, meta)]);
      return outcome;
    }
  }

  /**
   * The key sweep's call (`POST /v1/admin/keys/totp/sweep`) on `identityId`, which must be the
   * identity this object holds: seals the TOTP secrets again under the current key when an
   * older one sealed them (audited), and tells D1 which keys seal them even when nothing needed
   * re-sealing (D1 may not know: identities enrolled before it kept them), applied to D1 before
   * it answers, so the sweep's count of what remains is up to date for this identity.
   */
  async resealSecrets(identityId: string, nowMs: number, meta: RequestMeta): Promise<ResealResult> {
    const row = this.row();
    if (!row || row.id !== identityId) return "not_found";
    const result = await this.reseal(nowMs, meta, "sweep");
    await this.flush(nowMs, { d1: "apply", kv: false });
    return result;
  }

  /**
   * After a verify: seals the TOTP secrets again under the current key when an older one sealed
   * them (after a rotation of TOTP_ENCRYPTION_KEYS), so the old key stops being needed by the
   * identities that verify. What changed leaves by the relay, like the verify's own writes.
   */
  private async resealAfterVerify(nowMs: number, meta: RequestMeta): Promise<void> {
    if ((await this.reseal(nowMs, meta, "verify")) === "resealed") await this.flush(nowMs, { d1: "relay", kv: false });
  }

  /** Clears the lock, the failure count and the escalation. Audited. */
  async unlock(nowMs: number, meta: RequestMeta): Promise<Profile | null> {
    const row = this.row();
    if (!row) return null;
    this.transaction(() => clearLockout(this.identity, row, nowMs, meta));
    await this.flush(nowMs, { d1: "relay", kv: true });
    return this.profile(nowMs);
  }

  /** Whether a session the Worker has checked the token of still holds (the revocation rule). */
  async sessionStatus(sessionId: string, identityId: string): Promise<SessionStatus> {
    const row = this.row();
    return sessionStatusOf(row, row ? this.identity.store.session(sessionId) : null, identityId);
  }

  /** Active sessions (not revoked, not expired at `nowMs`), oldest first. */
  async listSessions(nowMs: number): Promise<SessionView[] | null> {
    const row = this.row();
    return row ? activeSessions(this.identity, row, nowMs) : null;
  }

  /** Revokes one session; revoking it again answers the first revocation's time. Audited. */
  async revokeSession(
    sessionId: string,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "revoked"; revokedAt: string } | { result: "not_found" }> {
    const row = this.row();
    const session = row ? this.identity.store.session(sessionId) : null;
    if (!row || !session) return { result: "not_found" };
    const { revokedAt } = this.transaction(() => revokeOneSession(this.identity, row, session, nowMs, meta));
    await this.flush(nowMs, { d1: "relay", kv: true });
    return { result: "revoked", revokedAt };
  }

  /**
   * A Sentinel identity action on `identityId`, which must be the identity this object holds.
   * Pushed to KV for the eventual path before the call returns (the alarm retries if KV fails).
   */
  async applyAction(
    identityId: string,
    type: ActionType,
    details: { reason: string | null; incidentId: string | null },
    targets: readonly DeliveryTarget[],
    nowMs: number,
    meta: RequestMeta,
  ): Promise<ActionOutcome | { result: "not_found" }> {
    const row = this.row();
    if (!row) return { result: "not_found" };
    if (row.id !== identityId) {
      // The caller's id names another identity than the one this object holds: act on nothing
      // rather than on the wrong account.
      console.error(
        JSON.stringify({
          level: "error",
          msg: "identity action reached an object that holds another identity",
          identityId,
          held: row.id,
        }),
      );
      return { result: "not_found" };
    }
    const outcome = this.transaction(() =>
      applyIdentityAction(this.identity, row, type, details, targets, nowMs, meta),
    );
    await this.flush(nowMs, { d1: "apply", kv: true });
    return outcome;
  }

  /**
   * A Sentinel assessment of `identityId` (which must be the identity this object holds), with
   * the company's policy and what the IP's object knows, decided in one transaction. Recorded
   * and audited before it answers; shipped to D1 by the alarm, like a verify.
   */
  async assess(
    identityId: string,
    context: AssessmentContext,
    policy: RiskPolicy,
    ipState: IpState,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<AssessmentResult | { result: "not_found" }> {
    const row = this.row();
    const ip = parseIp(context.ip);
    if (!row || row.id !== identityId || !ip) return { result: "not_found" };
    const input: RiskInput = {
      ip,
      ipText: canonicalIp(ip),
      userAgent: context.ua,
      userId: context.user_id,
      country: context.country,
      geo: context.geo,
    };
    const result = this.transaction(() =>
      assessIdentity(this.identity, row, input, context, policy, ipState, nowMs, meta),
    );
    await this.flush(nowMs, { d1: "relay", kv: false });
    return result;
  }

  /** An analyst's verdict on one of this identity's assessments (see applyFeedback). Audited. */
  async feedback(
    identityId: string,
    assessmentId: string,
    verdict: "legitimate" | "fraudulent",
    context: AssessmentContext,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "recorded" } | { result: "not_found" }> {
    const row = this.row();
    if (!row || row.id !== identityId) return { result: "not_found" };
    this.transaction(() => applyFeedback(this.identity, row, assessmentId, verdict, context, nowMs, meta));
    await this.flush(nowMs, { d1: "apply", kv: true });
    return { result: "recorded" };
  }

  /** Sends this identity's writes after `progress` again, for a consumer that found a gap. */
  async resendWrites(identityId: string, progress: number): Promise<"resent" | "nothing" | "lost" | "not_found"> {
    const row = this.row();
    if (!row || row.id !== identityId) return "not_found";
    return this.changes.resend(row.id, progress);
  }

  /** The safety net: ships what a crash or a failed send left, and pushes marks KV lacks. */
  override async alarm(): Promise<void> {
    const row = this.row();
    if (row) await this.changes.onAlarm(row.id, () => this.row());
  }

  /** Sends this change's writes on (see ChangeShipping.flush). */
  private flush(nowMs: number, options: { d1: "relay" | "apply"; kv: boolean }): Promise<void> {
    return this.changes.flush(() => this.row(), nowMs, options);
  }

  private row() {
    return this.hasSchema ? this.identity.store.row() : null;
  }

  private transaction<T>(decide: () => T): T {
    return this.ctx.storage.transactionSync(decide);
  }

  /** See resealTotpSecrets: one try's await, then its transaction, again while the secrets change. */
  private reseal(nowMs: number, meta: RequestMeta, trigger: "verify" | "sweep"): Promise<ResealResult> {
    return resealTotpSecrets(
      this.identity,
      totpKeyring(this.env),
      this.openedSecrets,
      (decide) => this.transaction(decide),
      () => this.row(),
      nowMs,
      meta,
      trigger,
    );
  }

  private migrate(): void {
    const { store, outbox, chain } = this.identity;
    this.transaction(() =>
      store.migrate(() => {
        outbox.createSchema();
        chain.createSchema();
      }),
    );
    this.hasSchema = true;
  }
}

/** The D1 writes consumer's way to ask an identity's object to send its writes again (see D1Outbox.resend). */
export async function resendIdentityWrites(env: Env, identityId: string, progress: number): Promise<void> {
  const object = identityObjectOf(env, identityId);
  if (!object) return;
  const outcome = await object.resendWrites(identityId, progress);
  console.log(
    JSON.stringify({ level: "warn", msg: "d1 writes: asked an identity to resend", identityId, progress, outcome }),
  );
}

export function identityGuard(env: Env, companyId: string, externalId: string): DurableObjectStub<IdentityGuard> {
  return env.IDENTITY_GUARD.get(env.IDENTITY_GUARD.idFromName(JSON.stringify([companyId, externalId])));
}
