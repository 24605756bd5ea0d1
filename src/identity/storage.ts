import type { AttemptState } from "../domain/lockout";
import type { RevocationMarks, SessionTimes } from "../domain/revocation";
import type { IdentityRecord } from "./types";

/**
 * The identity object's own SQLite tables, their rows, and the reads and simple writes of them.
 * Everything here is synchronous, so it can run inside one storage transaction.
 */

export type IdentityRow = {
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
  assessments: number;
  last_geo_lat: number | null;
  last_geo_lon: number | null;
  last_geo_at_ms: number | null;
};

export type SessionRow = {
  id: string;
  issued_at_ms: number;
  expires_at_ms: number;
  mfa_verified_at_ms: number;
  revoked_at_ms: number | null;
  ip: string | null;
  user_agent: string | null;
};

/** Storage schema steps, applied once each, in order (the object's own migrations). */
export const STORAGE_MIGRATIONS: readonly string[] = [
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
    tombstone_synced INTEGER NOT NULL DEFAULT 1 -- no longer read: revoked sessions travel in the marks record
  )`,
  // Sentinel's memory of this identity: IPs, user agents and countries with when each was last
  // seen (bounded), the assessment count, the last location, user agents reported fraudulent.
  "CREATE TABLE risk_seen (kind TEXT NOT NULL, value TEXT NOT NULL, last_seen_ms INTEGER NOT NULL, PRIMARY KEY (kind, value))",
  "CREATE TABLE risk_fraud_agents (user_agent TEXT PRIMARY KEY)",
  "ALTER TABLE identity ADD COLUMN assessments INTEGER NOT NULL DEFAULT 0",
  "ALTER TABLE identity ADD COLUMN last_geo_lat REAL",
  "ALTER TABLE identity ADD COLUMN last_geo_lon REAL",
  "ALTER TABLE identity ADD COLUMN last_geo_at_ms INTEGER",
];

/**
 * What STORAGE_MIGRATIONS build, written as the final tables: a new identity's object creates
 * these at once instead of replaying every step. Schema statements are most of what a new
 * object costs (measured: 20 of them cut a bare new object's rate by half), and an ALTER is
 * dearer than a column in a CREATE. A test checks that both ways give the same tables. A new
 * migration changes both: the step is appended above, and the snapshot takes its final form.
 */
export const STORAGE_SNAPSHOT: readonly string[] = [
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
    backup_salt TEXT,
    sessions_revoked_before_ms INTEGER,
    mfa_challenge_required_from_ms INTEGER,
    marks_version INTEGER NOT NULL DEFAULT 0,
    marks_synced_version INTEGER NOT NULL DEFAULT 0,
    assessments INTEGER NOT NULL DEFAULT 0,
    last_geo_lat REAL,
    last_geo_lon REAL,
    last_geo_at_ms INTEGER
  )`,
  "CREATE TABLE backup_codes (hash TEXT PRIMARY KEY, used_at TEXT)",
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
  "CREATE TABLE risk_seen (kind TEXT NOT NULL, value TEXT NOT NULL, last_seen_ms INTEGER NOT NULL, PRIMARY KEY (kind, value))",
  "CREATE TABLE risk_fraud_agents (user_agent TEXT PRIMARY KEY)",
];

export class IdentityStore {
  constructor(readonly sql: SqlStorage) {}

  /**
   * False until the identity is provisioned: asking about an identity that does not exist
   * (a typo, or a key holder probing made-up ids) answers "not found" without writing anything,
   * so it cannot fill storage with empty objects.
   */
  hasSchema(): boolean {
    return (
      this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").toArray()
        .length > 0
    );
  }

  /** Applies the storage migrations not applied yet; `extraSchema` creates the tables shared helpers own. */
  migrate(extraSchema: () => void): void {
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS schema_version (singleton INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
    );
    extraSchema();
    const current = this.sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0]?.version ?? 0;
    if (current >= STORAGE_MIGRATIONS.length) return;
    const steps = current === 0 ? STORAGE_SNAPSHOT : STORAGE_MIGRATIONS.slice(current);
    for (const statement of steps) this.sql.exec(statement);
    this.sql.exec(
      "INSERT INTO schema_version (singleton, version) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
      STORAGE_MIGRATIONS.length,
    );
  }

  row(): IdentityRow | null {
    return this.sql.exec<IdentityRow>("SELECT * FROM identity WHERE singleton = 1").toArray()[0] ?? null;
  }

  session(sessionId: string): SessionRow | null {
    return this.sql.exec<SessionRow>("SELECT * FROM sessions WHERE id = ?", sessionId).toArray()[0] ?? null;
  }

  /** Sessions not expired at `nowMs`, oldest first (revoked ones included). */
  unexpiredSessions(nowMs: number): SessionRow[] {
    return this.sql
      .exec<SessionRow>("SELECT * FROM sessions WHERE expires_at_ms > ? ORDER BY issued_at_ms, id", nowMs)
      .toArray();
  }

  unusedBackupCodes(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM backup_codes WHERE used_at IS NULL").one().n;
  }

  writeAttempts(state: AttemptState): void {
    this.sql.exec(
      "UPDATE identity SET failed_attempts = ?, locked_until_ms = ?, permanently_locked = ?, temporary_lockouts = ? WHERE singleton = 1",
      state.failedAttempts,
      state.lockedUntilMs,
      state.permanentlyLocked ? 1 : 0,
      state.temporaryLockouts,
    );
  }
}

export function recordOf(row: IdentityRow): IdentityRecord {
  return {
    id: row.id,
    company_id: row.company_id,
    external_id: row.external_id,
    status: row.status === "disabled" ? "disabled" : "active",
    created_at: row.created_at,
  };
}

export function attemptsOf(row: IdentityRow): AttemptState {
  return {
    failedAttempts: row.failed_attempts,
    lockedUntilMs: row.locked_until_ms,
    permanentlyLocked: row.permanently_locked === 1,
    temporaryLockouts: row.temporary_lockouts,
  };
}

/** The identity's revocation marks, as the revocation rule reads them. */
export function marksOf(row: IdentityRow): RevocationMarks {
  return {
    disabled: row.status === "disabled",
    revokedBeforeMs: row.sessions_revoked_before_ms,
    mfaRequiredFromMs: row.mfa_challenge_required_from_ms,
  };
}

export function timesOf(session: SessionRow): SessionTimes {
  return {
    issuedAtMs: session.issued_at_ms,
    mfaVerifiedAtMs: session.mfa_verified_at_ms,
    revokedAtMs: session.revoked_at_ms,
  };
}
