import type { Env } from "../config/env";
import { totpKeyring } from "../config/keyrings";
import { openSecret, sealSecret } from "../domain/secret-box";
import type { DeliveryTarget, DeliveryView } from "../identity/types";
import type { ConnectorCredentials, OpenConnector } from "./deliver";
import type { ConnectorType } from "./providers";

/** A connector's row in D1 (credentials sealed). */
export interface ConnectorRow {
  id: string;
  company_id: string;
  type: ConnectorType;
  name: string;
  base_url: string;
  token_url: string | null;
  credentials: string;
  created_at: string;
  deleted_at: string | null;
}

/** What the API shows of a connector: never its credentials. */
export function connectorToWire(row: ConnectorRow) {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    base_url: row.base_url,
    token_url: row.token_url,
    created_at: row.created_at,
  };
}

/** The associated data credentials are sealed with: sealed credentials open only for their connector. */
function credentialsContext(connectorId: string): string {
  return `connector:${connectorId}`;
}

/** Credentials are sealed like TOTP secrets, bound to the connector id (AES-GCM associated data). */
export async function sealCredentials(
  env: Env,
  connectorId: string,
  credentials: ConnectorCredentials,
): Promise<string> {
  return sealSecret(totpKeyring(env), JSON.stringify(credentials), credentialsContext(connectorId));
}

export async function openConnector(env: Env, row: ConnectorRow): Promise<OpenConnector> {
  const credentials = JSON.parse(
    await openSecret(totpKeyring(env), row.credentials, credentialsContext(row.id)),
  ) as ConnectorCredentials;
  return { id: row.id, type: row.type, baseUrl: row.base_url, tokenUrl: row.token_url, credentials };
}

/** The connector's sealed credentials sealed again under the keyring's current key (the key sweep). */
export async function resealedCredentials(env: Env, row: { id: string; credentials: string }): Promise<string> {
  const keyring = totpKeyring(env);
  const context = credentialsContext(row.id);
  return sealSecret(keyring, await openSecret(keyring, row.credentials, context), context);
}

export async function findConnector(db: D1Database, companyId: string, id: string): Promise<ConnectorRow | null> {
  return db
    .prepare("SELECT * FROM connectors WHERE id = ? AND company_id = ? AND deleted_at IS NULL")
    .bind(id, companyId)
    .first<ConnectorRow>();
}

export async function listConnectors(db: D1Database, companyId: string): Promise<ConnectorRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM connectors WHERE company_id = ? AND deleted_at IS NULL ORDER BY created_at, id")
    .bind(companyId)
    .all<ConnectorRow>();
  return results;
}

/** The company's connectors an action on this identity goes to, with the provider's key for it. */
export async function deliveryTargets(
  db: D1Database,
  companyId: string,
  identityId: string,
  externalId: string,
): Promise<DeliveryTarget[]> {
  const { results } = await db
    .prepare(
      "SELECT c.id AS connector_id, c.type AS connector_type, l.provider_user_id AS provider_user_id FROM connectors c LEFT JOIN connector_links l ON l.connector_id = c.id AND l.identity_id = ? WHERE c.company_id = ? AND c.deleted_at IS NULL ORDER BY c.created_at, c.id",
    )
    .bind(identityId, companyId)
    .all<{ connector_id: string; connector_type: string; provider_user_id: string | null }>();
  return results.map((r) => ({
    connector_id: r.connector_id,
    connector_type: r.connector_type,
    provider_user_id: r.provider_user_id ?? externalId,
  }));
}

/** Deliveries of these actions, by action id, oldest first. */
export async function deliveriesOf(
  db: D1Database,
  companyId: string,
  actionIds: readonly string[],
): Promise<Map<string, DeliveryView[]>> {
  const byAction = new Map<string, DeliveryView[]>();
  if (actionIds.length === 0) return byAction;
  const { results } = await db
    .prepare(
      `SELECT id, action_id, connector_id, connector_type, status, attempts, last_error FROM action_deliveries WHERE company_id = ? AND action_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`,
    )
    .bind(companyId, JSON.stringify(actionIds))
    .all<{
      id: string;
      action_id: string;
      connector_id: string;
      connector_type: string;
      status: DeliveryView["status"];
      attempts: number;
      last_error: string | null;
    }>();
  for (const r of results) {
    const list = byAction.get(r.action_id) ?? [];
    list.push({
      id: r.id,
      connector_id: r.connector_id,
      type: r.connector_type,
      status: r.status,
      attempts: r.attempts,
      last_error: r.last_error,
    });
    byAction.set(r.action_id, list);
  }
  return byAction;
}

/** The connector's newest 20 deliveries that failed for good. */
export async function recentFailures(db: D1Database, companyId: string, connectorId: string) {
  const { results } = await db
    .prepare(
      "SELECT id, action_id, action_type, identity_id, attempts, last_error, updated_at FROM action_deliveries WHERE connector_id = ? AND company_id = ? AND status = 'failed' ORDER BY updated_at DESC, id DESC LIMIT 20",
    )
    .bind(connectorId, companyId)
    .all<{
      id: string;
      action_id: string;
      action_type: string;
      identity_id: string;
      attempts: number;
      last_error: string | null;
      updated_at: string;
    }>();
  return results.map((r) => ({
    delivery_id: r.id,
    action_id: r.action_id,
    action_type: r.action_type,
    identity_id: r.identity_id,
    attempts: r.attempts,
    last_error: r.last_error,
    failed_at: r.updated_at,
  }));
}
