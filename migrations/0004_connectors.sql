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
