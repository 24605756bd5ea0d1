import type { LockoutPolicy } from "../domain/lockout";
import type { Env } from "./env";

/** The Worker's settings (wrangler.toml vars), read with their defaults. */

/** A positive integer setting, or its default when unset or not a positive integer. */
export function intSetting(value: string | undefined, fallback: number): number {
  if (value === undefined || !/^\d+$/.test(value.trim())) return fallback;
  const parsed = Number.parseInt(value, 10);
  return parsed > 0 ? parsed : fallback;
}

export function lockoutPolicy(env: Env): LockoutPolicy {
  return {
    maxFailedAttempts: intSetting(env.MAX_FAILED_ATTEMPTS, 5),
    lockoutSeconds: intSetting(env.LOCKOUT_SECONDS, 900),
    maxTemporaryLockouts: intSetting(env.MAX_TEMPORARY_LOCKOUTS, 3),
  };
}

export function sessionTtlSeconds(env: Env): number {
  return intSetting(env.SESSION_TTL_SECONDS, 43_200);
}
