import { type D1Write, write } from "./writes";

/**
 * The D1 write statements of connectors and their deliveries (the rest are in writes.ts, under
 * the same rules: idempotent, because they may be replayed from an outbox).
 */
export const insertConnector = (row: {
  id: string;
  company_id: string;
  type: string;
  name: string;
  base_url: string;
  token_url: string | null;
  credentials: string;
  created_at: string;
}): D1Write =>
  write(
    "INSERT OR IGNORE INTO connectors (id, company_id, type, name, base_url, token_url, credentials, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    row.id,
    row.company_id,
    row.type,
    row.name,
    row.base_url,
    row.token_url,
    row.credentials,
    row.created_at,
  );

/**
 * The connector's credentials sealed again (under the current key of the TOTP keyring), if they
 * are still the ones that were re-sealed: a compare-and-set, so a late replay, or a second
 * sweep that got there first, changes nothing.
 */
export const resealConnectorCredentials = (id: string, sealedBefore: string, sealedNow: string): D1Write =>
  write("UPDATE connectors SET credentials = ? WHERE id = ? AND credentials = ?", sealedNow, id, sealedBefore);

export const deleteConnector = (id: string, deletedAt: string): D1Write =>
  write("UPDATE connectors SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", deletedAt, id);

/** The provider's user key for an identity at a connector (the latest one stands). */
export const upsertConnectorLink = (link: {
  identity_id: string;
  connector_id: string;
  company_id: string;
  provider_user_id: string;
  updated_at: string;
}): D1Write =>
  write(
    "INSERT INTO connector_links (identity_id, connector_id, company_id, provider_user_id, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (identity_id, connector_id) DO UPDATE SET provider_user_id = excluded.provider_user_id, updated_at = excluded.updated_at",
    link.identity_id,
    link.connector_id,
    link.company_id,
    link.provider_user_id,
    link.updated_at,
  );

/** One action carried to one connector (a row of action_deliveries), written with the action. */
export const insertDelivery = (delivery: {
  id: string;
  company_id: string;
  action_id: string;
  identity_id: string;
  connector_id: string;
  connector_type: string;
  action_type: string;
  sequence: number;
  provider_user_id: string;
  status: string;
  created_at: string;
}): D1Write =>
  write(
    "INSERT OR IGNORE INTO action_deliveries (id, company_id, action_id, identity_id, connector_id, connector_type, action_type, sequence, provider_user_id, status, attempts, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)",
    delivery.id,
    delivery.company_id,
    delivery.action_id,
    delivery.identity_id,
    delivery.connector_id,
    delivery.connector_type,
    delivery.action_type,
    delivery.sequence,
    delivery.provider_user_id,
    delivery.status,
    delivery.created_at,
    delivery.created_at,
  );

/** A delivery's state after a try; only a pending delivery moves, so a late duplicate changes nothing. */
export const settleDelivery = (
  id: string,
  status: "pending" | "delivered" | "failed",
  attempts: number,
  lastError: string | null,
  at: string,
): D1Write =>
  write(
    "UPDATE action_deliveries SET status = ?, attempts = ?, last_error = ?, updated_at = ?, claimed_until_ms = 0 WHERE id = ? AND status = 'pending' AND attempts < ?",
    status,
    attempts,
    lastError,
    at,
    id,
    attempts,
  );
