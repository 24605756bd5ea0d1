/**
 * How Sentinel turns signals into one score and a recommendation. Each signal carries a weight in
 * [0, 1]; the score is 1 - the product of (1 - weight): it stays in [0, 1], never falls when a
 * signal is added or a weight raised, and does not depend on the signals' order. Some signals
 * deny whatever the score (a disabled identity, a deny-listed IP).
 */
export const SIGNAL_NAMES = [
  "identity_disabled",
  "identity_locked",
  "mfa_challenge_pending",
  "recent_failures",
  "new_ip",
  "new_user_agent",
  "new_country",
  "ip_churn",
  "impossible_travel",
  "reserved_ip",
  "deny_listed_ip",
  "denied_country",
  "automation_user_agent",
  "empty_user_agent",
  "ip_velocity",
  "reported_fraud",
  "user_id_mismatch",
] as const;

export type SignalName = (typeof SIGNAL_NAMES)[number];

export interface Signal {
  name: SignalName;
  weight: number;
  /** What was seen, in words an analyst reads. */
  detail: string;
}

/** Signals that deny whatever the score. */
export const DENYING_SIGNALS: ReadonlySet<SignalName> = new Set(["identity_disabled", "deny_listed_ip"]);

export type Recommendation = "allow" | "challenge" | "deny";

export function riskScore(signals: readonly Signal[]): number {
  let keep = 1;
  for (const signal of signals) keep *= 1 - clampWeight(signal.weight);
  // Rounded to 4 places so the same input always prints the same score.
  return Math.round((1 - keep) * 10_000) / 10_000;
}

export function recommend(
  signals: readonly Signal[],
  score: number,
  thresholds: { challengeThreshold: number; denyThreshold: number },
): Recommendation {
  if (signals.some((signal) => DENYING_SIGNALS.has(signal.name))) return "deny";
  if (score >= thresholds.denyThreshold) return "deny";
  if (score >= thresholds.challengeThreshold) return "challenge";
  return "allow";
}

function clampWeight(weight: number): number {
  return Number.isFinite(weight) ? Math.min(1, Math.max(0, weight)) : 0;
}
