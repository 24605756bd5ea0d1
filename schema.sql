-- The current D1 schema, for reading: the database is built by the migrations in migrations/,
-- applied in order by `npm run dev` and by the test setup. A test checks that applying them
-- gives exactly this schema, so a schema change is a new migration plus the same change here.

CREATE TABLE IF NOT EXISTS companies (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- Only the SHA-256 of a key is stored; the key itself is shown once, when created.
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies (id),
  name TEXT,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('live', 'test')),
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_company ON api_keys (company_id);

-- Written by each identity's Durable Object (the authority on the identity) through its outbox.
CREATE TABLE IF NOT EXISTS identities (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at TEXT NOT NULL,
  -- The key id of TOTP_ENCRYPTION_KEYS sealing the active TOTP secret, and the one pending
  -- confirmation: NULL when there is none, '?' when D1 does not know it yet (identities that
  -- enrolled before migration 0005, until the key sweep visits them).
  totp_key_id TEXT,
  totp_pending_key_id TEXT,
  UNIQUE (company_id, external_id)
);
-- The per-key counts of GET /v1/admin/keys/totp, and the sweep's search for old keys.
CREATE INDEX IF NOT EXISTS identities_totp_key ON identities (totp_key_id) WHERE totp_key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS identities_totp_pending_key ON identities (totp_pending_key_id) WHERE totp_pending_key_id IS NOT NULL;

-- Hash-chained events; each chain (a company's, or an identity's) has one writer.
CREATE TABLE IF NOT EXISTS audit_events (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  chain_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  identity_id TEXT,
  type TEXT NOT NULL,
  outcome TEXT NOT NULL,
  actor TEXT,
  ip TEXT,
  reason TEXT,
  incident_id TEXT,
  request_id TEXT,
  metadata TEXT NOT NULL,
  created_at TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  -- Set when compaction dropped a routine event's content (it is counted in audit_rollups).
  compacted_at TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain_id, seq)
);
CREATE INDEX IF NOT EXISTS audit_events_company_time ON audit_events (company_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_events_identity_time ON audit_events (company_id, identity_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_events_type_time ON audit_events (company_id, type, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_events_chain ON audit_events (company_id, chain_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_compaction ON audit_events (type, outcome, created_at) WHERE compacted_at IS NULL;

-- Daily counts of compacted routine events; identity_id is '' for company-level events.
CREATE TABLE IF NOT EXISTS audit_rollups (
  company_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  day TEXT NOT NULL,
  type TEXT NOT NULL,
  outcome TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (company_id, identity_id, day, type, outcome)
);

-- Mirrors of each identity's sessions (its Durable Object is the authority), for listing and clean-up.
-- Validating a session never reads this table.
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  mfa_verified_at TEXT NOT NULL,
  revoked_at TEXT,
  ip TEXT,
  user_agent TEXT
);
CREATE INDEX IF NOT EXISTS sessions_identity ON sessions (company_id, identity_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);

CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  title TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  closed_at TEXT
);
CREATE INDEX IF NOT EXISTS incidents_company ON incidents (company_id, created_at);

-- Sentinel identity actions; `incident_id` is one of our incidents or an external reference, kept as given.
CREATE TABLE IF NOT EXISTS identity_actions (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('disable', 'enable', 'revoke_sessions', 'force_mfa')),
  reason TEXT,
  incident_id TEXT,
  performed_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_actions_identity ON identity_actions (company_id, identity_id, created_at);
CREATE INDEX IF NOT EXISTS identity_actions_incident ON identity_actions (company_id, incident_id, created_at);
-- Sentinel assessments: written by each identity's Durable Object through its outbox.
CREATE TABLE IF NOT EXISTS assessments (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  context TEXT NOT NULL,
  risk_score REAL NOT NULL,
  recommendation TEXT NOT NULL CHECK (recommendation IN ('allow', 'challenge', 'deny')),
  signals TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('enforce', 'monitor')),
  created_at TEXT NOT NULL,
  feedback_verdict TEXT CHECK (feedback_verdict IN ('legitimate', 'fraudulent')),
  feedback_at TEXT
);
CREATE INDEX IF NOT EXISTS assessments_identity ON assessments (company_id, identity_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS assessments_company ON assessments (company_id, created_at DESC, id DESC);

-- The D1 writes queue (src/ledger/shipment.ts): per source object, the number of its last write
-- applied, and the messages the consumer failed on every retry.
CREATE TABLE IF NOT EXISTS outbox_progress (
  source TEXT PRIMARY KEY,
  through INTEGER NOT NULL,
  prev INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);

-- A batch may only continue a source's progress from where it is: otherwise the whole batch
-- rolls back (two consumers applying the same message at once, or a stale plan).
CREATE TRIGGER IF NOT EXISTS outbox_progress_continues
BEFORE UPDATE ON outbox_progress
WHEN NEW.prev <> OLD.through
BEGIN
  SELECT RAISE(ABORT, 'outbox_out_of_order');
END;

CREATE TRIGGER IF NOT EXISTS outbox_progress_starts
BEFORE INSERT ON outbox_progress
WHEN NEW.prev <> 0 AND NOT EXISTS (SELECT 1 FROM outbox_progress WHERE source = NEW.source)
BEGIN
  SELECT RAISE(ABORT, 'outbox_out_of_order');
END;

CREATE TABLE IF NOT EXISTS dead_letters (
  id TEXT PRIMARY KEY,
  source TEXT,
  after_seq INTEGER,
  through_seq INTEGER,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  -- 1 when the source's progress moved past it (its later writes were released).
  skipped INTEGER NOT NULL DEFAULT 0,
  replayed_at TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters (recorded_at DESC, id DESC);

-- Connectors: the company's other identity providers, which disable, enable and revoke-sessions
-- are carried to. Credentials are sealed (AES-GCM, the TOTP keyring, the connector id as
-- associated data) and never returned.
CREATE TABLE IF NOT EXISTS connectors (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('entra', 'okta', 'google_workspace')),
  name TEXT NOT NULL,
  base_url TEXT NOT NULL,
  token_url TEXT,
  credentials TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);
CREATE INDEX IF NOT EXISTS connectors_company ON connectors (company_id, created_at);
-- The provider's user key for an identity where it is not the identity's external_id.
CREATE TABLE IF NOT EXISTS connector_links (
  identity_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  company_id TEXT NOT NULL,
  provider_user_id TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (identity_id, connector_id)
);
-- One action carried to one connector: created with the action (from the identity's object),
-- then moved on by the deliveries queue's consumer.
CREATE TABLE IF NOT EXISTS action_deliveries (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  action_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  connector_type TEXT NOT NULL,
  action_type TEXT NOT NULL,
  -- The action's place among the identity's changes (its object's marks version): deliveries of
  -- one identity to one connector go in this order.
  sequence INTEGER NOT NULL,
  provider_user_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'not_applicable')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  -- A consumer working on it holds it until then; the sweep re-sends pending ones past it.
  claimed_until_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS action_deliveries_action ON action_deliveries (action_id);
CREATE INDEX IF NOT EXISTS action_deliveries_order ON action_deliveries (identity_id, connector_id, sequence);
CREATE INDEX IF NOT EXISTS action_deliveries_connector ON action_deliveries (connector_id, status, updated_at);
CREATE INDEX IF NOT EXISTS action_deliveries_pending ON action_deliveries (status, claimed_until_ms);
