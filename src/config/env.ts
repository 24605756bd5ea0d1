import type { CompanyLedger } from "../company/ledger";
import type { DeliveryMessage } from "../connectors/consumer";
import type { IdentityGuard } from "../identity/guard";
import type { OutboxRelay } from "../ledger/relay";
import type { QueueBundle } from "../ledger/shipment";
import type { IpWatch } from "../risk/ip-watch";

/** Bindings, vars and secrets of the Worker (see wrangler.toml and the README's configuration table). */
export interface Env {
  DB: D1Database;
  /** One revocation marks record per identity (with its revoked sessions), for the eventual introspection path. */
  REVOCATIONS: KVNamespace;
  IDENTITY_GUARD: DurableObjectNamespace<IdentityGuard>;
  COMPANY_LEDGER: DurableObjectNamespace<CompanyLedger>;
  IP_WATCH: DurableObjectNamespace<IpWatch>;
  /** Bundles of identity objects' D1 writes, applied in batches across identities (src/ledger/d1-sink.ts). */
  D1_WRITES: Queue<QueueBundle>;
  /** One message per try of carrying an action to a connector (src/connectors/consumer.ts). */
  CONNECTOR_DELIVERIES: Queue<DeliveryMessage>;
  /** Per client IP: API key lookups that miss the isolate's cache (D1 reads). See src/http/rate-limits.ts. */
  KEY_LOOKUP_LIMIT: RateLimit;
  /** Per API key: requests of the authenticated routes. */
  API_KEY_LIMIT: RateLimit;
  /** Per client IP: requests of the authenticated routes. */
  CLIENT_IP_LIMIT: RateLimit;
  /** Gathers identity objects' D1 writes into bundles for D1_WRITES (src/ledger/relay.ts). */
  OUTBOX_RELAY: DurableObjectNamespace<OutboxRelay>;

  /** Secret. Bearer token(s) of the admin routes, comma-separated (rotation); without one they answer 404. */
  ADMIN_TOKEN?: string;
  /** Secret. `k2:<base64 32 bytes>,k1:<...>`: AES-GCM keys for TOTP secrets, current first. */
  TOTP_ENCRYPTION_KEYS?: string;
  /** Secret. Base64 bytes: the HMAC pepper of backup-code hashes. */
  BACKUP_CODE_PEPPER?: string;
  /** Secret. `s2:<base64 32 bytes>,s1:<...>`: keys sealing session tokens (AES-GCM), current first. */
  SESSION_SIGNING_KEY?: string;

  MAX_FAILED_ATTEMPTS?: string;
  LOCKOUT_SECONDS?: string;
  MAX_TEMPORARY_LOCKOUTS?: string;
  SESSION_TTL_SECONDS?: string;
  AUDIT_RETENTION_DAYS?: string;
  ASSESSMENT_RETENTION_DAYS?: string;
  /** "true" lets connector URLs be http (local stand-ins only; `npm run dev` sets it in .dev.vars). */
  ALLOW_HTTP_CONNECTOR_URLS?: string;
  /** Milliseconds before a provider call counts as timed out (10,000). */
  CONNECTOR_TIMEOUT_MS?: string;
}
