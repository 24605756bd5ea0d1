import { type Cidr, parseCidr } from "./network";
import type { SignalName } from "./score";
import type { RiskPolicyRules } from "./signals";

/**
 * A company's Sentinel policy. `monitor` mode computes and records everything as `enforce` would
 * but never answers 403, so a company can tune before enforcing. Deny lists win over allow lists.
 */
export interface RiskPolicy {
  mode: "enforce" | "monitor";
  challenge_threshold: number;
  deny_threshold: number;
  allow_cidrs: string[];
  deny_cidrs: string[];
  deny_countries: string[];
  max_travel_kmh: number;
  weights: Partial<Record<SignalName, number>>;
  version: number;
  updated_at: string | null;
}

export type PolicyChange = Partial<Omit<RiskPolicy, "version" | "updated_at">>;

export const DEFAULT_POLICY: RiskPolicy = {
  mode: "enforce",
  challenge_threshold: 0.3,
  deny_threshold: 0.7,
  allow_cidrs: [],
  deny_cidrs: [],
  deny_countries: [],
  // About the cruising speed of an airliner: faster than that is not one person travelling.
  max_travel_kmh: 805,
  weights: {},
  version: 1,
  updated_at: null,
};

/** The policy after `change`, with its version bumped; or why the result would be inconsistent. */
export function applyPolicyChange(
  current: RiskPolicy,
  change: PolicyChange,
  nowMs: number,
): { ok: true; policy: RiskPolicy } | { ok: false; path: string; message: string } {
  const next: RiskPolicy = {
    ...current,
    ...change,
    weights: change.weights === undefined ? current.weights : { ...change.weights },
    version: current.version + 1,
    updated_at: new Date(nowMs).toISOString(),
  };
  if (next.challenge_threshold > next.deny_threshold) {
    return { ok: false, path: "challenge_threshold", message: "must not be above deny_threshold" };
  }
  return { ok: true, policy: next };
}

/** The policy in the form the signals read (its CIDRs parsed; they were validated when set). */
export function policyRules(policy: RiskPolicy): RiskPolicyRules {
  const cidrs = (texts: string[]): Cidr[] => texts.map(parseCidr).filter((cidr): cidr is Cidr => cidr !== null);
  return {
    allowCidrs: cidrs(policy.allow_cidrs),
    denyCidrs: cidrs(policy.deny_cidrs),
    denyCountries: policy.deny_countries,
    maxTravelKmh: policy.max_travel_kmh,
    weights: policy.weights,
  };
}
