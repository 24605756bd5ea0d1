import { DurableObject } from "cloudflare:workers";
import { ChainLedger, type EventInput } from "./audit/chain-ledger";
import { EVENT } from "./audit/event-types";
import { D1Outbox } from "./audit/outbox";
import {
  generateBackupCodeSalt,
  generateBackupCodes,
  hashBackupCode,
  normalizeBackupCode,
} from "./domain/backup-codes";
import { isoTime, newId } from "./domain/ids";
import {
  type AttemptState,
  attemptsRemaining,
  type LockoutPolicy,
  lockStatus,
  recordFailure,
  settle,
  UNLOCKED,
} from "./domain/lockout";
import { openSecret } from "./domain/secret-box";
import { looksLikeTotp, verifyTotp } from "./domain/totp";
import { type Env, lockoutPolicy, sessionTtlSeconds } from "./env";
import { totpKeyring } from "./http/keyrings";

/**
 * One Durable Object per identity, named by (company, external_id): the authority on the
 * identity and on everything about it that needs compare-and-set (failed attempts, lockout,
 * the last accepted TOTP step, backup-code use), and the single writer of the identity's audit
 * chain. Each decision reads and writes the object's SQLite storage synchronously, with no
 * await in between, so concurrent requests for one identity are serialized: N wrong codes at
 * once count N failures at most up to the lock, and one right code sent N times succeeds once.
 * Hot paths (profile, verify) answer from here without touching D1; D1 receives the identity
 * row and the audit events through the outbox.
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
  userAgent?: string | null;
  reason?: string | null;
}

/** A session the object just issued; the Worker signs it into a token. */
export interface IssuedSession {
  id: string;
  identityId: string;
  issuedAtMs: number;
  expiresAtMs: number;
  mfaVerifiedAtMs: number;
}

export type VerifyOutcome =
  | { result: "success"; method: "totp" | "backup_code"; backupCodesRemaining: number; session: IssuedSession }
  | { result: "invalid_code" | "code_reused"; failedAttempts: number; attemptsRemaining: number }
  | { result: "locked"; lockedUntil: string | null; failedAttempts: number }
  | { result: "disabled" | "not_configured" | "not_found" };

export type IdentityRefusal = { result: "not_found" | "disabled" };

export type SessionStatus =
  | { active: true; mfaRequired: boolean }
  | { active: false; reason: "revoked" | "disabled" | "invalid" };

export interface SessionView {
  id: string;
  identity_id: string;
  external_id: string;
  created_at: string;
  expires_at: string;
  mfa_verified_at: string;
  mfa_required: boolean;
  ip: string | null;
  user_agent: string | null;
}

export type ActionType = "disable" | "enable" | "revoke_sessions" | "force_mfa";

export interface ActionRecord {
  id: string;
  type: ActionType;
  identity_id: string;
  reason: string | null;
  incident_id: string | null;
  performed_by: string;
  created_at: string;
}

export interface ActionOutcome {
  result: "applied";
  action: ActionRecord;
  identity: { id: string; status: IdentityStatus };
  revokedSessions: number;
  mfaChallengeRequiredFrom: string | null;
}

/** What KV holds per identity for the eventual-consistency introspection path. */
export interface IdentityMarks {
  revoked_before_ms: number | null;
  disabled: boolean;
  mfa_challenge_required_from_ms: number | null;
}

export const identityMarksKey = (identityId: string): string => `idn:${identityId}`;
export const sessionTombstoneKey = (sessionId: string): string => `ses:${sessionId}`;

type SessionRow = {
  id: string;
  issued_at_ms: number;
  expires_at_ms: number;
  mfa_verified_at_ms: number;
  revoked_at_ms: number | null;
  ip: string | null;
  user_agent: string | null;
};

type IdentityRow = {
  id: string;
  company_id: string;
  external_id: string;
  status: string;
  created_at: string;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  last_totp_step: number | null;
  failed_attempts: number;
  locked_until_ms: number | null;
  permanently_locked: number;
  temporary_lockouts: number;
  backup_salt: string | null;
  sessions_revoked_before_ms: number | null;
  mfa_challenge_required_from_ms: number | null;
  marks_version: number;
  marks_synced_version: number;
};

const ACTION_EVENT: Record<ActionType, string> = {
  disable: EVENT.identityDisabled,
  enable: EVENT.identityEnabled,
  revoke_sessions: EVENT.sessionsRevoked,
  force_mfa: EVENT.mfaChallengeForced,
};

/** Storage schema steps, applied once each, in order (the object's own migrations). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    totp_secret TEXT,
    totp_pending_secret TEXT,
    last_totp_step INTEGER,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER,
    permanently_locked INTEGER NOT NULL DEFAULT 0,
    temporary_lockouts INTEGER NOT NULL DEFAULT 0,
    backup_salt TEXT
  )`,
  "CREATE TABLE backup_codes (hash TEXT PRIMARY KEY, used_at TEXT)",
  // Revocation marks: sessions issued at or before `sessions_revoked_before_ms` are revoked;
  // sessions verified at or before `mfa_challenge_required_from_ms` need MFA again. The marks
  // versions say whether KV has the latest marks yet.
  "ALTER TABLE identity ADD COLUMN sessions_revoked_before_ms INTEGER",
  "ALTER TABLE identity ADD COLUMN mfa_challenge_required_from_ms INTEGER",
  "ALTER TABLE identity ADD COLUMN marks_version INTEGER NOT NULL DEFAULT 0",
  "ALTER TABLE identity ADD COLUMN marks_synced_version INTEGER NOT NULL DEFAULT 0",
  `CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    issued_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    mfa_verified_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    ip TEXT,
    user_agent TEXT,
    tombstone_synced INTEGER NOT NULL DEFAULT 1
  )`,
];

/** The additional data a TOTP secret is sealed with: a sealed secret opens only for its identity. */
export function totpSealingContext(companyId: string, externalId: string): string {
  return JSON.stringify(["totp", companyId, externalId]);
}

export class IdentityGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly outbox: D1Outbox;
  private readonly ledger: ChainLedger;
  private readonly policy: LockoutPolicy;
  /** Opened TOTP secrets by their sealed form, so a verify does not decrypt every time. */
  private readonly openedSecrets = new Map<string, string>();

  /**
   * False until the identity is provisioned: asking about an identity that does not exist
   * (a typo, or a key holder probing made-up ids) answers "not found" without writing anything,
   * so it cannot fill storage with empty objects.
   */
  private hasSchema: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.outbox = new D1Outbox(this.sql, ctx.storage);
    this.ledger = new ChainLedger(this.sql, this.outbox);
    this.policy = lockoutPolicy(env);
    this.hasSchema =
      this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").toArray()
        .length > 0;
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
        type: EVENT.identityProvisioned,
        outcome: "success",
        metadata: { external_id: externalId },
      });
    });
    await this.flush(nowMs, { wait: true });
    return { created: true, identity };
  }

  /** The live security profile at `nowMs`, or null when this identity was never provisioned. */
  async profile(nowMs: number): Promise<Profile | null> {
    const row = this.row();
    return row ? this.profileOf(row, nowMs) : null;
  }

  /**
   * Stores a new TOTP secret, sealed by the caller. Without `confirm` it replaces the active
   * secret at once; with `confirm` it waits as pending until a code verifies against it, and
   * the previous secret stays in force meanwhile. Re-enrolment resets neither the failure
   * count nor the escalation, and keeps the replay guard.
   */
  async enrolTotp(
    sealedSecret: string,
    confirm: boolean,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "enrolled"; identity: IdentityRecord } | IdentityRefusal> {
    const row = this.row();
    if (!row) return { result: "not_found" };
    const identity = this.recordOf(row);
    if (identity.status === "disabled") return { result: "disabled" };
    this.ctx.storage.transactionSync(() => {
      if (confirm) {
        this.sql.exec("UPDATE identity SET totp_pending_secret = ? WHERE singleton = 1", sealedSecret);
      } else {
        this.sql.exec(
          "UPDATE identity SET totp_secret = ?, totp_pending_secret = NULL WHERE singleton = 1",
          sealedSecret,
        );
      }
      this.audit(identity, nowMs, meta, {
        type: EVENT.totpEnrolled,
        outcome: "success",
        metadata: { pending_confirmation: confirm, re_enrolment: row.totp_secret !== null },
      });
    });
    await this.flush(nowMs, { wait: true });
    return { result: "enrolled", identity };
  }

  /** Replaces the backup codes with a new set of `count`, atomically; returns them this once. */
  async regenerateBackupCodes(
    count: number,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "generated"; codes: string[] } | IdentityRefusal> {
    const row = this.row();
    if (!row) return { result: "not_found" };
    const identity = this.recordOf(row);
    if (identity.status === "disabled") return { result: "disabled" };
    const pepper = this.backupPepper();
    const codes = generateBackupCodes(count);
    const salt = generateBackupCodeSalt();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM backup_codes");
      this.sql.exec("UPDATE identity SET backup_salt = ? WHERE singleton = 1", salt);
      for (const code of codes) {
        const canonical = normalizeBackupCode(code) ?? "";
        this.sql.exec("INSERT INTO backup_codes (hash) VALUES (?)", hashBackupCode(canonical, pepper, salt));
      }
      this.audit(identity, nowMs, meta, {
        type: EVENT.backupCodesGenerated,
        outcome: "success",
        metadata: { count, replaced_previous: row.backup_salt !== null },
      });
    });
    await this.flush(nowMs, { wait: true });
    return { result: "generated", codes };
  }

  /**
   * Checks a TOTP or backup code. While locked, even a right code is refused unchecked. The
   * only await (opening the sealed secrets) comes before the decision; the decision itself
   * re-reads the state and writes the outcome in one synchronous transaction.
   */
  async verifyCode(code: string, nowMs: number, meta: RequestMeta): Promise<VerifyOutcome> {
    for (;;) {
      const before = this.row();
      if (!before) return { result: "not_found" };
      const secrets = await this.openSecrets(before);
      const row = this.row();
      if (!row) return { result: "not_found" };
      // A re-enrolment slipped in while the secrets were being opened: open the new ones.
      if (row.totp_secret !== before.totp_secret || row.totp_pending_secret !== before.totp_pending_secret) continue;
      const outcome = this.ctx.storage.transactionSync(() => this.decide(row, secrets, code, nowMs, meta));
      await this.flush(nowMs, { wait: false });
      return outcome;
    }
  }

  /** Clears the lock, the failure count and the escalation. Audited. */
  async unlock(nowMs: number, meta: RequestMeta): Promise<Profile | null> {
    const row = this.row();
    if (!row) return null;
    const identity = this.recordOf(row);
    const wasLocked = lockStatus(this.attemptsOf(row), nowMs).locked;
    this.ctx.storage.transactionSync(() => {
      this.writeAttempts(UNLOCKED);
      this.audit(identity, nowMs, meta, {
        type: EVENT.identityUnlocked,
        outcome: "success",
        metadata: { was_locked: wasLocked, failed_attempts_cleared: row.failed_attempts },
      });
    });
    await this.flush(nowMs, { wait: true });
    return this.profile(nowMs);
  }

  /**
   * The authoritative answer for a session whose token the Worker has already checked
   * (signature, company, expiry): revoked, disabled, or active and whether it needs MFA again.
   */
  async sessionStatus(sessionId: string, identityId: string): Promise<SessionStatus> {
    const row = this.row();
    if (!row || row.id !== identityId) return { active: false, reason: "invalid" };
    const session = this.session(sessionId);
    if (!session) return { active: false, reason: "invalid" };
    if (row.status === "disabled") return { active: false, reason: "disabled" };
    if (this.isRevoked(row, session)) return { active: false, reason: "revoked" };
    return { active: true, mfaRequired: this.mfaRequired(row, session) };
  }

  /** Active sessions (not revoked, not expired at `nowMs`), oldest first. */
  async listSessions(nowMs: number): Promise<SessionView[] | null> {
    const row = this.row();
    if (!row) return null;
    if (row.status === "disabled") return [];
    return this.sql
      .exec<SessionRow>("SELECT * FROM sessions WHERE expires_at_ms > ? ORDER BY issued_at_ms, id", nowMs)
      .toArray()
      .filter((session) => !this.isRevoked(row, session))
      .map((session) => ({
        id: session.id,
        identity_id: row.id,
        external_id: row.external_id,
        created_at: isoTime(session.issued_at_ms),
        expires_at: isoTime(session.expires_at_ms),
        mfa_verified_at: isoTime(session.mfa_verified_at_ms),
        mfa_required: this.mfaRequired(row, session),
        ip: session.ip,
        user_agent: session.user_agent,
      }));
  }

  /** Revokes one session; revoking it again answers the first revocation's time. Audited. */
  async revokeSession(
    sessionId: string,
    nowMs: number,
    meta: RequestMeta,
  ): Promise<{ result: "revoked"; revokedAt: string } | { result: "not_found" }> {
    const row = this.row();
    const session = row ? this.session(sessionId) : null;
    if (!row || !session) return { result: "not_found" };
    if (session.revoked_at_ms !== null) return { result: "revoked", revokedAt: isoTime(session.revoked_at_ms) };
    if (this.isRevoked(row, session)) {
      return { result: "revoked", revokedAt: isoTime(row.sessions_revoked_before_ms ?? session.issued_at_ms) };
    }
    const identity = this.recordOf(row);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE sessions SET revoked_at_ms = ?, tombstone_synced = 0 WHERE id = ?", nowMs, sessionId);
      this.outbox.enqueue("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [
        isoTime(nowMs),
        sessionId,
      ]);
      this.audit(identity, nowMs, meta, {
        type: EVENT.sessionRevoked,
        outcome: "success",
        reason: meta.reason ?? null,
        metadata: { session_id: sessionId },
      });
    });
    await this.flush(nowMs, { wait: true });
    return { result: "revoked", revokedAt: isoTime(nowMs) };
  }

  /**
   * A Sentinel identity action on `identityId`, which must be the identity this object holds.
   * Each takes effect for the very next strong introspection (this
   * object is what it asks) and is pushed to KV for the eventual path before the call returns
   * (the alarm retries if KV fails). Revoking every session is one mark, however many exist.
   */
  async applyAction(
    identityId: string,
    type: ActionType,
    details: { reason: string | null; incidentId: string | null },
    nowMs: number,
    meta: RequestMeta,
  ): Promise<ActionOutcome | { result: "not_found" }> {
    const row = this.row();
    if (!row) return { result: "not_found" };
    if (row.id !== identityId) {
      // The caller found this object through the D1 directory, and it holds another identity:
      // act on nothing rather than on the wrong account.
      console.error(
        JSON.stringify({
          level: "error",
          msg: "identity directory points at another identity",
          identityId,
          held: row.id,
        }),
      );
      return { result: "not_found" };
    }
    const identity = this.recordOf(row);
    const action: ActionRecord = {
      id: newId("act", nowMs),
      type,
      identity_id: identity.id,
      reason: details.reason,
      incident_id: details.incidentId,
      performed_by: meta.actor,
      created_at: isoTime(nowMs),
    };
    let status = identity.status;
    let revokedSessions = 0;
    let mfaFromMs = row.mfa_challenge_required_from_ms;

    this.ctx.storage.transactionSync(() => {
      const revokeAll = (): void => {
        revokedSessions = this.activeSessionCount(row, nowMs);
        const revokedBeforeMs = Math.max(row.sessions_revoked_before_ms ?? nowMs, nowMs);
        this.sql.exec("UPDATE identity SET sessions_revoked_before_ms = ? WHERE singleton = 1", revokedBeforeMs);
        this.outbox.enqueue(
          "UPDATE sessions SET revoked_at = ? WHERE company_id = ? AND identity_id = ? AND revoked_at IS NULL AND created_at <= ?",
          [action.created_at, identity.company_id, identity.id, isoTime(revokedBeforeMs)],
        );
      };
      switch (type) {
        case "disable":
          status = "disabled";
          revokeAll();
          break;
        case "enable":
          status = "active";
          break;
        case "revoke_sessions":
          revokeAll();
          break;
        case "force_mfa":
          mfaFromMs = Math.max(row.mfa_challenge_required_from_ms ?? nowMs, nowMs);
          this.sql.exec("UPDATE identity SET mfa_challenge_required_from_ms = ? WHERE singleton = 1", mfaFromMs);
          break;
      }
      if (status !== identity.status) {
        this.sql.exec("UPDATE identity SET status = ? WHERE singleton = 1", status);
        this.outbox.enqueue("UPDATE identities SET status = ? WHERE id = ?", [status, identity.id]);
      }
      this.sql.exec("UPDATE identity SET marks_version = marks_version + 1 WHERE singleton = 1");
      this.outbox.enqueue(
        "INSERT OR IGNORE INTO identity_actions (id, company_id, identity_id, type, reason, incident_id, performed_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
          action.id,
          identity.company_id,
          identity.id,
          action.type,
          action.reason,
          action.incident_id,
          action.performed_by,
          action.created_at,
        ],
      );
      this.audit(identity, nowMs, meta, {
        type: ACTION_EVENT[type],
        outcome: "success",
        reason: action.reason,
        incident_id: action.incident_id,
        metadata: {
          action_id: action.id,
          ...(type === "disable" || type === "revoke_sessions" ? { revoked_sessions: revokedSessions } : {}),
          ...(type === "disable" || type === "enable" ? { previous_status: identity.status } : {}),
        },
      });
    });
    await this.flush(nowMs, { wait: true });
    return {
      result: "applied",
      action,
      identity: { id: identity.id, status },
      revokedSessions,
      mfaChallengeRequiredFrom: mfaFromMs === null ? null : isoTime(mfaFromMs),
    };
  }

  override async alarm(): Promise<void> {
    if (!this.hasSchema) return;
    await this.outbox.flush(this.env.DB);
    await this.syncKv(Date.now());
  }

  private decide(
    row: IdentityRow,
    secrets: { active: string | null; pending: string | null },
    code: string,
    nowMs: number,
    meta: RequestMeta,
  ): VerifyOutcome {
    const identity = this.recordOf(row);
    const verifyEvent = (outcome: "success" | "failure", reason: string | null, metadata: Record<string, unknown>) =>
      this.audit(identity, nowMs, meta, { type: EVENT.mfaVerify, outcome, reason, metadata });

    if (identity.status === "disabled") {
      verifyEvent("failure", "identity_disabled", {});
      return { result: "disabled" };
    }

    let attempts = settle(this.attemptsOf(row), nowMs);
    const lock = lockStatus(attempts, nowMs);
    if (lock.locked) {
      verifyEvent("failure", "locked", { permanent: lock.permanent });
      return {
        result: "locked",
        lockedUntil: lockedUntilIso(lock.lockedUntilMs),
        failedAttempts: attempts.failedAttempts,
      };
    }

    const unusedBackupCodes = this.unusedBackupCodes();
    if (secrets.active === null && secrets.pending === null && unusedBackupCodes === 0) {
      verifyEvent("failure", "mfa_not_configured", {});
      return { result: "not_configured" };
    }

    const match = this.match(row, secrets, code, nowMs);
    if (match.kind === "totp" || match.kind === "backup_code") {
      const method = match.kind;
      attempts = UNLOCKED;
      this.writeAttempts(attempts);
      if (match.kind === "totp") {
        this.sql.exec("UPDATE identity SET last_totp_step = ? WHERE singleton = 1", match.step);
        if (match.promotesPending) {
          this.sql.exec(
            "UPDATE identity SET totp_secret = totp_pending_secret, totp_pending_secret = NULL WHERE singleton = 1",
          );
        }
      } else {
        this.sql.exec("UPDATE backup_codes SET used_at = ? WHERE hash = ?", isoTime(nowMs), match.hash);
      }
      const backupCodesRemaining = this.unusedBackupCodes();
      const session = this.issueSession(row, nowMs, meta);
      verifyEvent("success", null, {
        method,
        backup_codes_remaining: backupCodesRemaining,
        session_id: session.id,
        ...(match.kind === "totp" && match.promotesPending ? { confirmed_enrolment: true } : {}),
      });
      return { result: "success", method, backupCodesRemaining, session };
    }

    // A failure: counted, audited, and possibly the one that locks.
    const failure = recordFailure(attempts, nowMs, this.policy);
    attempts = failure.state;
    this.writeAttempts(attempts);
    const reason = match.kind === "replay" ? "code_reused" : "invalid_code";
    if (match.kind === "replay") {
      this.audit(identity, nowMs, meta, {
        type: EVENT.totpReplay,
        outcome: "failure",
        reason,
        metadata: { failed_attempts: attempts.failedAttempts },
      });
    } else {
      verifyEvent("failure", reason, { failed_attempts: attempts.failedAttempts });
    }
    if (failure.lockedNow) {
      const locked = lockStatus(attempts, nowMs);
      const lockedUntil = locked.locked ? lockedUntilIso(locked.lockedUntilMs) : null;
      this.audit(identity, nowMs, meta, {
        type: EVENT.identityLocked,
        outcome: "success",
        reason: "too_many_failed_attempts",
        metadata: {
          permanent: attempts.permanentlyLocked,
          locked_until: lockedUntil,
          temporary_lockouts: attempts.temporaryLockouts,
        },
      });
      return { result: "locked", lockedUntil, failedAttempts: attempts.failedAttempts };
    }
    return {
      result: reason,
      failedAttempts: attempts.failedAttempts,
      attemptsRemaining: attemptsRemaining(attempts, this.policy),
    };
  }

  /** What the code is against this identity's factors; pure apart from reading backup hashes. */
  private match(
    row: IdentityRow,
    secrets: { active: string | null; pending: string | null },
    code: string,
    nowMs: number,
  ):
    | { kind: "totp"; step: number; promotesPending: boolean }
    | { kind: "backup_code"; hash: string }
    | { kind: "replay" }
    | { kind: "invalid" } {
    if (looksLikeTotp(code)) {
      // RFC 6238 §5.2: the current step and one either side; the replay guard refuses any step at
      // or before the last one accepted, so a code is good once and an older one never again.
      const candidates: { step: number; promotesPending: boolean }[] = [];
      for (const [secret, promotesPending] of [
        [secrets.active, false],
        [secrets.pending, true],
      ] as const) {
        if (secret === null) continue;
        const result = verifyTotp(secret, code, nowMs);
        if (result.ok) candidates.push({ step: result.step, promotesPending });
      }
      const best = candidates.sort((a, b) => b.step - a.step)[0];
      if (!best) return { kind: "invalid" };
      if (row.last_totp_step !== null && best.step <= row.last_totp_step) return { kind: "replay" };
      return { kind: "totp", ...best };
    }
    const canonical = normalizeBackupCode(code);
    if (canonical === null || row.backup_salt === null) return { kind: "invalid" };
    const hash = hashBackupCode(canonical, this.backupPepper(), row.backup_salt);
    const found = this.sql
      .exec<{ hash: string }>("SELECT hash FROM backup_codes WHERE hash = ? AND used_at IS NULL", hash)
      .toArray()[0];
    return found ? { kind: "backup_code", hash: found.hash } : { kind: "invalid" };
  }

  private async openSecrets(row: IdentityRow): Promise<{ active: string | null; pending: string | null }> {
    const context = totpSealingContext(row.company_id, row.external_id);
    const open = async (sealed: string | null): Promise<string | null> => {
      if (sealed === null) return null;
      const cached = this.openedSecrets.get(sealed);
      if (cached !== undefined) return cached;
      const opened = await openSecret(totpKeyring(this.env), sealed, context);
      if (this.openedSecrets.size >= 4) this.openedSecrets.clear();
      this.openedSecrets.set(sealed, opened);
      return opened;
    };
    return { active: await open(row.totp_secret), pending: await open(row.totp_pending_secret) };
  }

  /** Inside the verify transaction: a new session, issued strictly after every revocation mark. */
  private issueSession(row: IdentityRow, nowMs: number, meta: RequestMeta): IssuedSession {
    // Marks are inclusive ("issued at or before T is revoked"), so a session issued in the same
    // millisecond as a revoke or force-mfa would be born revoked: issue it one millisecond later.
    const floorMs = Math.max(row.sessions_revoked_before_ms ?? -1, row.mfa_challenge_required_from_ms ?? -1) + 1;
    const issuedAtMs = Math.max(nowMs, floorMs);
    const session: IssuedSession = {
      id: newId("ses", issuedAtMs),
      identityId: row.id,
      issuedAtMs,
      expiresAtMs: issuedAtMs + sessionTtlSeconds(this.env) * 1000,
      mfaVerifiedAtMs: issuedAtMs,
    };
    this.sql.exec("DELETE FROM sessions WHERE expires_at_ms <= ? AND tombstone_synced = 1", nowMs);
    this.sql.exec(
      "INSERT INTO sessions (id, issued_at_ms, expires_at_ms, mfa_verified_at_ms, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
      session.id,
      session.issuedAtMs,
      session.expiresAtMs,
      session.mfaVerifiedAtMs,
      meta.ip ?? null,
      meta.userAgent ?? null,
    );
    this.outbox.enqueue(
      "INSERT OR IGNORE INTO sessions (id, company_id, identity_id, external_id, created_at, expires_at, mfa_verified_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [
        session.id,
        row.company_id,
        row.id,
        row.external_id,
        isoTime(session.issuedAtMs),
        isoTime(session.expiresAtMs),
        isoTime(session.mfaVerifiedAtMs),
        meta.ip ?? null,
        meta.userAgent ?? null,
      ],
    );
    return session;
  }

  private session(sessionId: string): SessionRow | null {
    return this.sql.exec<SessionRow>("SELECT * FROM sessions WHERE id = ?", sessionId).toArray()[0] ?? null;
  }

  private isRevoked(row: IdentityRow, session: SessionRow): boolean {
    return (
      session.revoked_at_ms !== null ||
      (row.sessions_revoked_before_ms !== null && session.issued_at_ms <= row.sessions_revoked_before_ms)
    );
  }

  private mfaRequired(row: IdentityRow, session: SessionRow): boolean {
    return (
      row.mfa_challenge_required_from_ms !== null && session.mfa_verified_at_ms <= row.mfa_challenge_required_from_ms
    );
  }

  private activeSessionCount(row: IdentityRow, nowMs: number): number {
    return this.sql
      .exec<SessionRow>("SELECT * FROM sessions WHERE expires_at_ms > ? AND revoked_at_ms IS NULL", nowMs)
      .toArray()
      .filter((session) => !this.isRevoked(row, session)).length;
  }

  /**
   * Pushes the revocation marks and per-session tombstones KV does not have yet. Idempotent:
   * the marks are rewritten whole from the current state. TTLs outlive the longest session.
   */
  private async syncKv(nowMs: number): Promise<void> {
    const row = this.row();
    if (!row) return;
    const ttlSeconds = sessionTtlSeconds(this.env);
    if (row.marks_version > row.marks_synced_version) {
      const marks: IdentityMarks = {
        revoked_before_ms: row.sessions_revoked_before_ms,
        disabled: row.status === "disabled",
        mfa_challenge_required_from_ms: row.mfa_challenge_required_from_ms,
      };
      await this.env.TOMBSTONES.put(identityMarksKey(row.id), JSON.stringify(marks), {
        expirationTtl: ttlSeconds + 3600,
      });
      this.sql.exec(
        "UPDATE identity SET marks_synced_version = max(marks_synced_version, ?) WHERE singleton = 1",
        row.marks_version,
      );
    }
    const pending = this.sql
      .exec<{ id: string; expires_at_ms: number }>("SELECT id, expires_at_ms FROM sessions WHERE tombstone_synced = 0")
      .toArray();
    for (const session of pending) {
      const ttl = Math.max(60, Math.ceil((session.expires_at_ms - nowMs) / 1000) + 60);
      await this.env.TOMBSTONES.put(sessionTombstoneKey(session.id), "revoked", { expirationTtl: ttl });
      this.sql.exec("UPDATE sessions SET tombstone_synced = 1 WHERE id = ?", session.id);
    }
  }

  private backupPepper(): Uint8Array {
    const value = this.env.BACKUP_CODE_PEPPER;
    if (!value) throw new Error("BACKUP_CODE_PEPPER is not set");
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  }

  private unusedBackupCodes(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM backup_codes WHERE used_at IS NULL").one().n;
  }

  private profileOf(row: IdentityRow, nowMs: number): Profile {
    const attempts = settle(this.attemptsOf(row), nowMs);
    const lock = lockStatus(attempts, nowMs);
    return {
      id: row.id,
      external_id: row.external_id,
      status: this.recordOf(row).status,
      has_otp: row.totp_secret !== null,
      has_passkeys: false,
      is_locked: lock.locked,
      failed_attempts: attempts.failedAttempts,
      saas_client_id: row.company_id,
      backup_codes_remaining: this.unusedBackupCodes(),
      locked_until: lock.locked ? lockedUntilIso(lock.lockedUntilMs) : null,
      mfa_challenge_required_from:
        row.mfa_challenge_required_from_ms === null ? null : isoTime(row.mfa_challenge_required_from_ms),
      created_at: row.created_at,
    };
  }

  private row(): IdentityRow | null {
    if (!this.hasSchema) return null;
    return this.sql.exec<IdentityRow>("SELECT * FROM identity WHERE singleton = 1").toArray()[0] ?? null;
  }

  private recordOf(row: IdentityRow): IdentityRecord {
    return {
      id: row.id,
      company_id: row.company_id,
      external_id: row.external_id,
      status: row.status === "disabled" ? "disabled" : "active",
      created_at: row.created_at,
    };
  }

  private attemptsOf(row: IdentityRow): AttemptState {
    return {
      failedAttempts: row.failed_attempts,
      lockedUntilMs: row.locked_until_ms,
      permanentlyLocked: row.permanently_locked === 1,
      temporaryLockouts: row.temporary_lockouts,
    };
  }

  private writeAttempts(state: AttemptState): void {
    this.sql.exec(
      "UPDATE identity SET failed_attempts = ?, locked_until_ms = ?, permanently_locked = ?, temporary_lockouts = ? WHERE singleton = 1",
      state.failedAttempts,
      state.lockedUntilMs,
      state.permanentlyLocked ? 1 : 0,
      state.temporaryLockouts,
    );
  }

  private audit(identity: IdentityRecord, nowMs: number, meta: RequestMeta, input: EventInput): void {
    this.ledger.append(identity.company_id, identity.id, nowMs, {
      identity_id: identity.id,
      actor: meta.actor,
      request_id: meta.requestId,
      ip: meta.ip ?? null,
      ...input,
      metadata: { ...(meta.userAgent ? { user_agent: meta.userAgent } : {}), ...input.metadata },
    });
  }

  /**
   * Schedules the D1 replay. Off the hot path callers wait for it so their writes are
   * readable when they answer; on the hot path the alarm does it right after.
   */
  private async flush(nowMs: number, options: { wait: boolean }): Promise<void> {
    await this.outbox.scheduleFlush(nowMs);
    if (!options.wait) return;
    await this.outbox.flush(this.env.DB).catch((error: unknown) => {
      console.error("identity guard: D1 flush failed, alarm will retry", String(error));
    });
    await this.syncKv(nowMs).catch((error: unknown) => {
      console.error("identity guard: KV sync failed, alarm will retry", String(error));
    });
  }

  private migrate(): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "CREATE TABLE IF NOT EXISTS schema_version (singleton INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
      );
      this.outbox.createSchema();
      this.ledger.createSchema();
    });
    this.hasSchema = true;
    const current = this.sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0]?.version ?? 0;
    if (current >= MIGRATIONS.length) return;
    this.ctx.storage.transactionSync(() => {
      for (const statement of MIGRATIONS.slice(current)) this.sql.exec(statement);
      this.sql.exec(
        "INSERT INTO schema_version (singleton, version) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
        MIGRATIONS.length,
      );
    });
  }
}

function lockedUntilIso(lockedUntilMs: number | null): string | null {
  return lockedUntilMs === null ? null : isoTime(lockedUntilMs);
}

export function identityGuard(env: Env, companyId: string, externalId: string): DurableObjectStub<IdentityGuard> {
  return env.IDENTITY_GUARD.get(env.IDENTITY_GUARD.idFromName(JSON.stringify([companyId, externalId])));
}
