import type { CompanyLedger } from "./company-ledger";
import type { IdentityGuard } from "./identity-guard";

/** Bindings, vars and secrets of the Worker (see wrangler.toml and the README's configuration table). */
export interface Env {
  DB: D1Database;
  TOMBSTONES: KVNamespace;
  IDENTITY_GUARD: DurableObjectNamespace<IdentityGuard>;
  COMPANY_LEDGER: DurableObjectNamespace<CompanyLedger>;

  /** Secret. Bearer token of the admin routes; without it they answer 404. */
  ADMIN_TOKEN?: string;

  MAX_FAILED_ATTEMPTS?: string;
  LOCKOUT_SECONDS?: string;
  MAX_TEMPORARY_LOCKOUTS?: string;
  SESSION_TTL_SECONDS?: string;
  AUDIT_RETENTION_DAYS?: string;
  ASSESSMENT_RETENTION_DAYS?: string;
}

/** A positive integer setting, or its default when unset or not a positive integer. */
export function intSetting(value: string | undefined, fallback: number): number {
  if (value === undefined || !/^\d+$/.test(value.trim())) return fallback;
  const parsed = Number.parseInt(value, 10);
  return parsed > 0 ? parsed : fallback;
}
