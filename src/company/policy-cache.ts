import type { Env } from "../config/env";
import type { RiskPolicy } from "../domain/risk/policy";
import { companyLedger } from "./ledger";

/**
 * Each isolate remembers each company's Sentinel policy for POLICY_CACHE_MS, so discover does
 * not ask the company's object every time: a change applies everywhere within that bound, and
 * at once in the isolate that made it (it remembers the new policy).
 */
export const POLICY_CACHE_MS = 5_000;
const CACHE_MAX = 10_000;
const cache = new Map<string, { policy: RiskPolicy; freshUntilMs: number }>();

export async function currentPolicy(env: Env, companyId: string, nowMs: number): Promise<RiskPolicy> {
  const cached = cache.get(companyId);
  if (cached && cached.freshUntilMs > nowMs) return cached.policy;
  const policy = await companyLedger(env, companyId).riskPolicy();
  rememberPolicy(companyId, policy, nowMs);
  return policy;
}

export function rememberPolicy(companyId: string, policy: RiskPolicy, nowMs: number): void {
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(companyId, { policy, freshUntilMs: nowMs + POLICY_CACHE_MS });
}
