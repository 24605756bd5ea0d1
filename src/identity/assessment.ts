import { insertAssessment, recordAssessmentFeedback } from "../db/writes";
import { EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { lockStatus, settle } from "../domain/lockout";
import { canonicalIp, parseIp } from "../domain/risk/network";
import { policyRules, type RiskPolicy } from "../domain/risk/policy";
import { type Recommendation, recommend, riskScore, type Signal } from "../domain/risk/score";
import { evaluateSignals, type IdentityHistory, type IpState, type RiskInput } from "../domain/risk/signals";
import { type IdentityContext, recordEvent } from "./context";
import { attemptsOf, type IdentityRow, recordOf } from "./storage";
import type { RequestMeta } from "./types";

/** How many IPs, user agents and countries an identity's history keeps (the most recent). */
export const HISTORY_LIMIT = 20;

/** The context a platform sent, as recorded with the assessment. */
export interface AssessmentContext {
  ip: string;
  ua: string;
  user_id?: string | undefined;
  country?: string | undefined;
  asn?: number | undefined;
  geo?: { lat: number; lon: number } | undefined;
}

export interface AssessmentResult {
  id: string;
  risk_score: number;
  recommendation: Recommendation;
  signals: Signal[];
  policy_version: number;
  mode: RiskPolicy["mode"];
}

/**
 * Inside a transaction: assesses the identity with what it remembers, records the assessment
 * (D1 through the outbox, and an event in the identity's chain) and learns from it: the IP, user
 * agent and country become known, the count and the last location move on.
 */
export function assessIdentity(
  ctx: IdentityContext,
  row: IdentityRow,
  input: RiskInput,
  context: AssessmentContext,
  policy: RiskPolicy,
  ipState: IpState,
  nowMs: number,
  meta: RequestMeta,
): AssessmentResult {
  const identity = recordOf(row);
  const lock = lockStatus(settle(attemptsOf(row), nowMs), nowMs);
  const signals = evaluateSignals({
    identity: {
      externalId: row.external_id,
      disabled: identity.status === "disabled",
      locked: lock.locked,
      mfaChallengePending: mfaChallengePending(ctx, row),
      failedAttempts: row.failed_attempts,
      maxFailedAttempts: ctx.lockout.maxFailedAttempts,
    },
    history: historyOf(ctx, row),
    ipState,
    input,
    policy: policyRules(policy),
    nowMs,
  });
  const score = riskScore(signals);
  const result: AssessmentResult = {
    id: newId("asm", nowMs),
    risk_score: score,
    recommendation: recommend(signals, score, {
      challengeThreshold: policy.challenge_threshold,
      denyThreshold: policy.deny_threshold,
    }),
    signals,
    policy_version: policy.version,
    mode: policy.mode,
  };

  learn(ctx, input, nowMs);
  ctx.store.sql.exec("UPDATE identity SET assessments = assessments + 1 WHERE singleton = 1");
  ctx.outbox.enqueue(
    insertAssessment({
      id: result.id,
      companyId: row.company_id,
      identityId: row.id,
      context: JSON.stringify(context),
      riskScore: result.risk_score,
      recommendation: result.recommendation,
      signals: JSON.stringify(result.signals),
      policyVersion: result.policy_version,
      mode: result.mode,
      createdAt: isoTime(nowMs),
    }),
  );
  recordEvent(ctx, identity, nowMs, meta, {
    type: EVENT.riskAssessed,
    outcome: result.recommendation === "allow" ? "success" : "denied",
    reason: result.recommendation,
    metadata: {
      assessment_id: result.id,
      risk_score: result.risk_score,
      signals: result.signals.map((s) => s.name),
      policy_version: result.policy_version,
      mode: result.mode,
    },
  });
  return result;
}

/** A force-mfa mark stands and no session has been verified since. */
function mfaChallengePending(ctx: IdentityContext, row: IdentityRow): boolean {
  if (row.mfa_challenge_required_from_ms === null) return false;
  const latest = ctx.store.sql
    .exec<{ latest: number | null }>("SELECT max(mfa_verified_at_ms) AS latest FROM sessions")
    .one().latest;
  return latest === null || latest <= row.mfa_challenge_required_from_ms;
}

function historyOf(ctx: IdentityContext, row: IdentityRow): IdentityHistory {
  const seen = (kind: string): Record<string, number> =>
    Object.fromEntries(
      ctx.store.sql
        .exec<{ value: string; last_seen_ms: number }>("SELECT value, last_seen_ms FROM risk_seen WHERE kind = ?", kind)
        .toArray()
        .map((r) => [r.value, r.last_seen_ms]),
    );
  return {
    assessments: row.assessments,
    ips: seen("ip"),
    userAgents: seen("ua"),
    countries: seen("country"),
    lastGeo:
      row.last_geo_lat !== null && row.last_geo_lon !== null && row.last_geo_at_ms !== null
        ? { lat: row.last_geo_lat, lon: row.last_geo_lon, atMs: row.last_geo_at_ms }
        : null,
    fraudulentUserAgents: ctx.store.sql
      .exec<{ user_agent: string }>("SELECT user_agent FROM risk_fraud_agents")
      .toArray()
      .map((r) => r.user_agent),
  };
}

/**
 * Inside a transaction: an analyst's verdict on an assessment of this identity. Legitimate: what
 * it saw becomes known (as if learnt). Fraudulent: its user agent is marked for this identity
 * (the IP is marked company-wide by the IP's own object).
 */
export function applyFeedback(
  ctx: IdentityContext,
  row: IdentityRow,
  assessmentId: string,
  verdict: "legitimate" | "fraudulent",
  context: AssessmentContext,
  nowMs: number,
  meta: RequestMeta,
): void {
  if (verdict === "legitimate") {
    const ip = parseIp(context.ip);
    learn(ctx, { ipText: ip ? canonicalIp(ip) : context.ip, userAgent: context.ua, country: context.country }, nowMs);
  } else if (context.ua !== "") {
    ctx.store.sql.exec("INSERT OR IGNORE INTO risk_fraud_agents (user_agent) VALUES (?)", context.ua);
    ctx.store.sql.exec(
      "DELETE FROM risk_fraud_agents WHERE user_agent NOT IN (SELECT user_agent FROM risk_fraud_agents ORDER BY rowid DESC LIMIT ?)",
      HISTORY_LIMIT,
    );
  }
  ctx.outbox.enqueue(recordAssessmentFeedback(assessmentId, verdict, isoTime(nowMs)));
  recordEvent(ctx, recordOf(row), nowMs, meta, {
    type: EVENT.riskFeedback,
    outcome: "success",
    reason: verdict,
    metadata: { assessment_id: assessmentId, verdict },
  });
}

/** Remembers what this assessment saw, keeping the HISTORY_LIMIT most recent of each kind. */
export function learn(
  ctx: IdentityContext,
  input: Pick<RiskInput, "ipText" | "userAgent" | "country" | "geo">,
  nowMs: number,
): void {
  const remember = (kind: string, value: string | undefined): void => {
    if (value === undefined || value === "") return;
    ctx.store.sql.exec(
      "INSERT INTO risk_seen (kind, value, last_seen_ms) VALUES (?, ?, ?) ON CONFLICT (kind, value) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
      kind,
      value,
      nowMs,
    );
    ctx.store.sql.exec(
      "DELETE FROM risk_seen WHERE kind = ? AND value NOT IN (SELECT value FROM risk_seen WHERE kind = ? ORDER BY last_seen_ms DESC, value LIMIT ?)",
      kind,
      kind,
      HISTORY_LIMIT,
    );
  };
  remember("ip", input.ipText);
  remember("ua", input.userAgent);
  remember("country", input.country);
  if (input.geo) {
    ctx.store.sql.exec(
      "UPDATE identity SET last_geo_lat = ?, last_geo_lon = ?, last_geo_at_ms = ? WHERE singleton = 1",
      input.geo.lat,
      input.geo.lon,
      nowMs,
    );
  }
}
