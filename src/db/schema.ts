import { isNotNull } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, unique } from "drizzle-orm/sqlite-core";

/** Drizzle's view of the D1 schema (`schema.sql`, built by `migrations/`); its writes are in `writes.ts`. */

export const companies = sqliteTable("companies", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: text("created_at").notNull(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    name: text("name"),
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    scopes: text("scopes").notNull(),
    mode: text("mode", { enum: ["live", "test"] }).notNull(),
    createdAt: text("created_at").notNull(),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("api_keys_company").on(t.companyId)],
);

export const identities = sqliteTable(
  "identities",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    externalId: text("external_id").notNull(),
    status: text("status", { enum: ["active", "disabled"] }).notNull(),
    createdAt: text("created_at").notNull(),
    /** The key id sealing the active TOTP secret; null without one, '?' when D1 does not know it yet. */
    totpKeyId: text("totp_key_id"),
    /** The same for the secret pending confirmation. */
    totpPendingKeyId: text("totp_pending_key_id"),
  },
  (t) => [
    unique().on(t.companyId, t.externalId),
    index("identities_totp_key").on(t.totpKeyId).where(isNotNull(t.totpKeyId)),
    index("identities_totp_pending_key").on(t.totpPendingKeyId).where(isNotNull(t.totpPendingKeyId)),
  ],
);

export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    chainId: text("chain_id").notNull(),
    seq: integer("seq").notNull(),
    identityId: text("identity_id"),
    type: text("type").notNull(),
    outcome: text("outcome").notNull(),
    actor: text("actor"),
    ip: text("ip"),
    reason: text("reason"),
    incidentId: text("incident_id"),
    requestId: text("request_id"),
    metadata: text("metadata").notNull(),
    createdAt: text("created_at").notNull(),
    contentHash: text("content_hash").notNull(),
    compactedAt: text("compacted_at"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [unique().on(t.chainId, t.seq)],
);

export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    identityId: text("identity_id").notNull(),
    externalId: text("external_id").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    mfaVerifiedAt: text("mfa_verified_at").notNull(),
    revokedAt: text("revoked_at"),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [
    index("sessions_identity").on(t.companyId, t.identityId, t.createdAt),
    index("sessions_expiry").on(t.expiresAt),
  ],
);

export const incidents = sqliteTable(
  "incidents",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    title: text("title").notNull(),
    severity: text("severity", { enum: ["low", "medium", "high", "critical"] }).notNull(),
    status: text("status", { enum: ["open", "closed"] }).notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
    closedAt: text("closed_at"),
  },
  (t) => [index("incidents_company").on(t.companyId, t.createdAt)],
);

export const identityActions = sqliteTable(
  "identity_actions",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    identityId: text("identity_id").notNull(),
    type: text("type", { enum: ["disable", "enable", "revoke_sessions", "force_mfa"] }).notNull(),
    reason: text("reason"),
    incidentId: text("incident_id"),
    performedBy: text("performed_by").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    index("identity_actions_identity").on(t.companyId, t.identityId, t.createdAt),
    index("identity_actions_incident").on(t.companyId, t.incidentId, t.createdAt),
  ],
);

export const auditRollups = sqliteTable(
  "audit_rollups",
  {
    companyId: text("company_id").notNull(),
    identityId: text("identity_id").notNull(),
    day: text("day").notNull(),
    type: text("type").notNull(),
    outcome: text("outcome").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [primaryKey({ columns: [t.companyId, t.identityId, t.day, t.type, t.outcome] })],
);

export const assessments = sqliteTable(
  "assessments",
  {
    id: text("id").primaryKey(),
    companyId: text("company_id").notNull(),
    identityId: text("identity_id").notNull(),
    context: text("context").notNull(),
    riskScore: real("risk_score").notNull(),
    recommendation: text("recommendation", { enum: ["allow", "challenge", "deny"] }).notNull(),
    signals: text("signals").notNull(),
    policyVersion: integer("policy_version").notNull(),
    mode: text("mode", { enum: ["enforce", "monitor"] }).notNull(),
    createdAt: text("created_at").notNull(),
    feedbackVerdict: text("feedback_verdict", { enum: ["legitimate", "fraudulent"] }),
    feedbackAt: text("feedback_at"),
  },
  (t) => [
    index("assessments_identity").on(t.companyId, t.identityId, t.createdAt),
    index("assessments_company").on(t.companyId, t.createdAt),
  ],
);
