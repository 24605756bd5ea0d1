import type { AuditEvent } from "../domain/audit-chain";

/**
 * Every statement that writes to D1, next to the drizzle schema (`schema.ts`) they write to, so a
 * column is renamed in one place. Each is a value (SQL and parameters) because most travel
 * through a Durable Object's outbox and are replayed after a crash: each is idempotent (INSERT OR
 * IGNORE by primary key, or an absolute UPDATE guarded by the state it leaves).
 */
export type SqlParam = string | number | null;

export interface D1Write {
  sql: string;
  params: SqlParam[];
  /** For an INSERT OR IGNORE of one row: the table, so rows of many writes can go in one statement (`bulkInsert`). */
  bulk?: BulkTable;
}

export const write = (sql: string, ...params: SqlParam[]): D1Write => ({ sql, params });

/** The columns of each table whose one-row inserts may be sent together, in the order of their parameters. */
const BULK_COLUMNS = {
  identities: ["id", "company_id", "external_id", "status", "created_at"],
  sessions: [
    "id",
    "company_id",
    "identity_id",
    "external_id",
    "created_at",
    "expires_at",
    "mfa_verified_at",
    "ip",
    "user_agent",
  ],
  identity_actions: ["id", "company_id", "identity_id", "type", "reason", "incident_id", "performed_by", "created_at"],
  audit_events: [
    "id",
    "company_id",
    "chain_id",
    "seq",
    "identity_id",
    "type",
    "outcome",
    "actor",
    "ip",
    "reason",
    "incident_id",
    "request_id",
    "metadata",
    "created_at",
    "content_hash",
    "prev_hash",
    "hash",
  ],
  assessments: [
    "id",
    "company_id",
    "identity_id",
    "context",
    "risk_score",
    "recommendation",
    "signals",
    "policy_version",
    "mode",
    "created_at",
  ],
} as const;

export type BulkTable = keyof typeof BULK_COLUMNS;

export function isBulkTable(value: unknown): value is BulkTable {
  return typeof value === "string" && Object.hasOwn(BULK_COLUMNS, value);
}

/** One INSERT OR IGNORE of a row into `table`, by its columns in BULK_COLUMNS order. */
function insertRow(table: BulkTable, ...params: SqlParam[]): D1Write {
  const columns = BULK_COLUMNS[table];
  if (params.length !== columns.length) throw new Error(`insert into ${table}: ${params.length} values`);
  return {
    sql: `INSERT OR IGNORE INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
    params,
    bulk: table,
  };
}

/**
 * Many rows of one table in one statement: the rows travel as one JSON parameter (D1 allows 100
 * bound parameters a statement, a JSON array has no such limit) and `json_each` unpacks them.
 * Same effect as the one-row inserts, row by row (INSERT OR IGNORE).
 */
export function bulkInsert(table: BulkTable, rows: SqlParam[][]): D1Write {
  const columns = BULK_COLUMNS[table];
  const values = columns.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
  return write(
    `INSERT OR IGNORE INTO ${table} (${columns.join(", ")}) SELECT ${values} FROM json_each(?)`,
    JSON.stringify(rows),
  );
}

export const insertCompany = (company: { id: string; name: string; created_at: string }): D1Write =>
  write(
    "INSERT OR IGNORE INTO companies (id, name, created_at) VALUES (?, ?, ?)",
    company.id,
    company.name,
    company.created_at,
  );

export const insertApiKey = (key: {
  id: string;
  companyId: string;
  name: string | null;
  prefix: string;
  keyHash: string;
  scopes: string;
  mode: string;
  createdAt: string;
}): D1Write =>
  write(
    "INSERT OR IGNORE INTO api_keys (id, company_id, name, prefix, key_hash, scopes, mode, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    key.id,
    key.companyId,
    key.name,
    key.prefix,
    key.keyHash,
    key.scopes,
    key.mode,
    key.createdAt,
  );

export const revokeApiKey = (id: string, revokedAt: string): D1Write =>
  write("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", revokedAt, id);

export const insertIdentity = (identity: {
  id: string;
  company_id: string;
  external_id: string;
  status: string;
  created_at: string;
}): D1Write =>
  insertRow("identities", identity.id, identity.company_id, identity.external_id, identity.status, identity.created_at);

export const updateIdentityStatus = (identityId: string, status: string): D1Write =>
  write("UPDATE identities SET status = ? WHERE id = ?", status, identityId);

/**
 * What `identities.totp_key_id` and `totp_pending_key_id` hold when D1 does not know the key
 * (identities enrolled before migration 0005, which writes it): never a key id, whose
 * characters are `[A-Za-z0-9_-]` (secret-box.ts).
 */
export const UNKNOWN_SEALING_KEY = "?";

/**
 * The key ids sealing the identity's TOTP secrets (active, pending; null where there is none),
 * as the identity's object holds them now: absolute, so replaying it is harmless, and the
 * object's order of writes makes the last one stand.
 */
export const updateIdentitySealingKeys = (identityId: string, active: string | null, pending: string | null): D1Write =>
  write("UPDATE identities SET totp_key_id = ?, totp_pending_key_id = ? WHERE id = ?", active, pending, identityId);

export const insertSession = (session: {
  id: string;
  companyId: string;
  identityId: string;
  externalId: string;
  createdAt: string;
  expiresAt: string;
  mfaVerifiedAt: string;
  ip: string | null;
  userAgent: string | null;
}): D1Write =>
  insertRow(
    "sessions",
    session.id,
    session.companyId,
    session.identityId,
    session.externalId,
    session.createdAt,
    session.expiresAt,
    session.mfaVerifiedAt,
    session.ip,
    session.userAgent,
  );

export const revokeSession = (sessionId: string, revokedAt: string): D1Write =>
  write("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", revokedAt, sessionId);

/** Every session of the identity issued at or before `issuedUpTo` (the revoke-all mark). */
export const revokeSessionsIssuedUpTo = (
  companyId: string,
  identityId: string,
  issuedUpTo: string,
  revokedAt: string,
): D1Write =>
  write(
    "UPDATE sessions SET revoked_at = ? WHERE company_id = ? AND identity_id = ? AND revoked_at IS NULL AND created_at <= ?",
    revokedAt,
    companyId,
    identityId,
    issuedUpTo,
  );

export const insertIdentityAction = (action: {
  id: string;
  company_id: string;
  identity_id: string;
  type: string;
  reason: string | null;
  incident_id: string | null;
  performed_by: string;
  created_at: string;
}): D1Write =>
  insertRow(
    "identity_actions",
    action.id,
    action.company_id,
    action.identity_id,
    action.type,
    action.reason,
    action.incident_id,
    action.performed_by,
    action.created_at,
  );

export const insertIncident = (incident: {
  id: string;
  companyId: string;
  title: string;
  severity: string;
  createdBy: string;
  createdAt: string;
}): D1Write =>
  write(
    "INSERT OR IGNORE INTO incidents (id, company_id, title, severity, status, created_by, created_at) VALUES (?, ?, ?, ?, 'open', ?, ?)",
    incident.id,
    incident.companyId,
    incident.title,
    incident.severity,
    incident.createdBy,
    incident.createdAt,
  );

export const closeIncident = (incidentId: string, closedAt: string): D1Write =>
  write("UPDATE incidents SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'", closedAt, incidentId);

export const insertAuditEvent = (event: AuditEvent): D1Write =>
  insertRow(
    "audit_events",
    event.id,
    event.company_id,
    event.chain_id,
    event.seq,
    event.identity_id,
    event.type,
    event.outcome,
    event.actor,
    event.ip,
    event.reason,
    event.incident_id,
    event.request_id,
    event.metadata,
    event.created_at,
    event.content_hash,
    event.prev_hash,
    event.hash,
  );

export const insertAssessment = (assessment: {
  id: string;
  companyId: string;
  identityId: string;
  context: string;
  riskScore: number;
  recommendation: string;
  signals: string;
  policyVersion: number;
  mode: string;
  createdAt: string;
}): D1Write =>
  insertRow(
    "assessments",
    assessment.id,
    assessment.companyId,
    assessment.identityId,
    assessment.context,
    assessment.riskScore,
    assessment.recommendation,
    assessment.signals,
    assessment.policyVersion,
    assessment.mode,
    assessment.createdAt,
  );

export const recordAssessmentFeedback = (assessmentId: string, verdict: string, at: string): D1Write =>
  write("UPDATE assessments SET feedback_verdict = ?, feedback_at = ? WHERE id = ?", verdict, at, assessmentId);

/** A write as a statement of `db`, to run directly or in a batch. */
export function prepare(db: D1Database, statement: D1Write): D1PreparedStatement {
  return db.prepare(statement.sql).bind(...statement.params);
}
