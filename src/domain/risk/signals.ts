import { createIsbotFromList, list as isbotPatterns } from "isbot";
import { distanceKm, type GeoPoint, speedKmh } from "./geo";
import { type Cidr, cidrContains, type IpAddress, specialRange } from "./network";
import type { Signal, SignalName } from "./score";

/**
 * Sentinel's signals: each a pure function of what is known, with `nowMs` passed in, answering a
 * signal (name, weight, the detail an analyst reads) or null. Weights are the policy's (its
 * overrides, else DEFAULT_WEIGHTS), scaled by how strongly the signal fired where that varies.
 */

export const DEFAULT_WEIGHTS: Record<SignalName, number> = {
  identity_disabled: 1,
  identity_locked: 0.6,
  mfa_challenge_pending: 0.3,
  recent_failures: 0.4,
  new_ip: 0.2,
  new_user_agent: 0.15,
  new_country: 0.3,
  ip_churn: 0.3,
  impossible_travel: 0.7,
  reserved_ip: 0.3,
  deny_listed_ip: 1,
  denied_country: 0.8,
  automation_user_agent: 0.5,
  empty_user_agent: 0.4,
  ip_velocity: 0.6,
  reported_fraud: 0.8,
  user_id_mismatch: 0.5,
};

/** For an identity's first assessments there is no history to differ from: "new" weighs this much of its weight. */
export const LEARNING_ASSESSMENTS = 5;
export const LEARNING_FACTOR = 0.2;
/** ip_churn: this many distinct IPs within the window. */
export const CHURN_IPS = 5;
export const CHURN_WINDOW_MS = 3_600_000;
/** ip_velocity: this many identities of the company from one IP within the window. */
export const VELOCITY_IDENTITIES = 20;
export const VELOCITY_WINDOW_MS = 600_000;
/** Moves shorter than this are never impossible travel (geolocation is coarse). */
const TRAVEL_MIN_KM = 100;

export interface IdentityState {
  externalId: string;
  disabled: boolean;
  locked: boolean;
  mfaChallengePending: boolean;
  failedAttempts: number;
  maxFailedAttempts: number;
}

/** What the identity's object remembers of its past assessments (each list bounded). */
export interface IdentityHistory {
  assessments: number;
  /** Canonical IP, user agent and country, each with when it was last seen. */
  ips: Record<string, number>;
  userAgents: Record<string, number>;
  countries: Record<string, number>;
  lastGeo: (GeoPoint & { atMs: number }) | null;
  fraudulentUserAgents: string[];
}

/** What the (company, IP) object knows: identities seen from the IP within the window, a fraud mark. */
export interface IpState {
  identitiesInWindow: number;
  reportedFraudulent: boolean;
}

export interface RiskInput {
  ip: IpAddress;
  ipText: string;
  userAgent: string;
  userId?: string | undefined;
  country?: string | undefined;
  geo?: GeoPoint | undefined;
}

export interface RiskPolicyRules {
  allowCidrs: readonly Cidr[];
  denyCidrs: readonly Cidr[];
  denyCountries: readonly string[];
  maxTravelKmh: number;
  weights: Partial<Record<SignalName, number>>;
}

export interface RiskFacts {
  identity: IdentityState;
  history: IdentityHistory;
  ipState: IpState;
  input: RiskInput;
  policy: RiskPolicyRules;
  nowMs: number;
}

/** Signals an allow-listed IP does not carry: what the network says about the address. */
const NETWORK_SIGNALS: ReadonlySet<SignalName> = new Set(["new_ip", "ip_churn", "reserved_ip", "ip_velocity"]);

type Rule = (facts: RiskFacts, weight: (name: SignalName, intensity?: number) => Signal["weight"]) => Signal | null;

/**
 * isbot's list, less its generic patterns that flag any bare `Product/1.0`: that is how
 * enterprise agents, native apps and SDKs announce themselves (the contract's own example is
 * `EnterpriseAgent/1.0`), and it says nothing about automation. Named tools, HTTP libraries,
 * crawlers and headless browsers stay.
 */
const PRODUCT_AGENTS = ["EnterpriseAgent/1.0", "AcmeApp/3.2.1"];
const isAutomation = createIsbotFromList(
  isbotPatterns.filter((pattern) => !PRODUCT_AGENTS.some((agent) => new RegExp(pattern, "i").test(agent))),
);

const signal = (name: SignalName, weight: number, detail: string): Signal => ({ name, weight, detail });

export const identityDisabled: Rule = ({ identity }, w) =>
  identity.disabled ? signal("identity_disabled", w("identity_disabled"), "The identity is disabled.") : null;

export const identityLocked: Rule = ({ identity }, w) =>
  identity.locked
    ? signal("identity_locked", w("identity_locked"), "The identity is locked after too many failed codes.")
    : null;

export const mfaChallengePending: Rule = ({ identity }, w) =>
  identity.mfaChallengePending
    ? signal("mfa_challenge_pending", w("mfa_challenge_pending"), "An MFA re-challenge was forced and is pending.")
    : null;

export const recentFailures: Rule = ({ identity }, w) => {
  if (identity.locked || identity.failedAttempts === 0) return null;
  const intensity = Math.min(1, identity.failedAttempts / Math.max(1, identity.maxFailedAttempts));
  return signal(
    "recent_failures",
    w("recent_failures", intensity),
    `${identity.failedAttempts} failed code(s) since the last success (the lock comes at ${identity.maxFailedAttempts}).`,
  );
};

const learning = (history: IdentityHistory): number =>
  history.assessments < LEARNING_ASSESSMENTS ? LEARNING_FACTOR : 1;
const learningNote = (history: IdentityHistory): string =>
  history.assessments < LEARNING_ASSESSMENTS
    ? ` Learning period: assessment ${history.assessments + 1} of the first ${LEARNING_ASSESSMENTS}, so it weighs little.`
    : "";

export const newIp: Rule = ({ history, input }, w) =>
  input.ipText in history.ips
    ? null
    : signal(
        "new_ip",
        w("new_ip", learning(history)),
        `First time this identity is seen from ${input.ipText}.${learningNote(history)}`,
      );

export const newUserAgent: Rule = ({ history, input }, w) =>
  input.userAgent === "" || input.userAgent in history.userAgents
    ? null
    : signal(
        "new_user_agent",
        w("new_user_agent", learning(history)),
        `First time this identity is seen with this user agent.${learningNote(history)}`,
      );

export const newCountry: Rule = ({ history, input }, w) =>
  input.country === undefined || input.country in history.countries
    ? null
    : signal(
        "new_country",
        w("new_country", learning(history)),
        `First time this identity is seen from ${input.country}.${learningNote(history)}`,
      );

export const ipChurn: Rule = ({ history, input, nowMs }, w) => {
  const recent = new Set(
    Object.entries(history.ips)
      .filter(([, lastSeenMs]) => nowMs - lastSeenMs <= CHURN_WINDOW_MS)
      .map(([ip]) => ip),
  );
  recent.add(input.ipText);
  return recent.size >= CHURN_IPS
    ? signal("ip_churn", w("ip_churn"), `${recent.size} distinct IP addresses for this identity within the last hour.`)
    : null;
};

export const impossibleTravel: Rule = ({ history, input, policy, nowMs }, w) => {
  if (!input.geo || !history.lastGeo) return null;
  const km = distanceKm(history.lastGeo, input.geo);
  const kmh = speedKmh(km, nowMs - history.lastGeo.atMs);
  if (km < TRAVEL_MIN_KM || kmh <= policy.maxTravelKmh) return null;
  const minutes = Math.max(0, Math.round((nowMs - history.lastGeo.atMs) / 60_000));
  return signal(
    "impossible_travel",
    w("impossible_travel"),
    `${Math.round(km)} km from the last assessment's location in ${minutes} min: ${Math.round(kmh)} km/h, over the policy's ${policy.maxTravelKmh} km/h.`,
  );
};

export const reservedIp: Rule = ({ input }, w) => {
  const range = specialRange(input.ip);
  return range === null
    ? null
    : signal("reserved_ip", w("reserved_ip"), `${input.ipText} is in a ${range} range, not a public address.`);
};

export const denyListedIp: Rule = ({ input, policy }, w) => {
  const match = policy.denyCidrs.find((cidr) => cidrContains(cidr, input.ip));
  return match
    ? signal("deny_listed_ip", w("deny_listed_ip"), `${input.ipText} is in the policy's deny list (${match.text}).`)
    : null;
};

export const deniedCountry: Rule = ({ input, policy }, w) =>
  input.country !== undefined && policy.denyCountries.includes(input.country)
    ? signal("denied_country", w("denied_country"), `${input.country} is a denied country in the policy.`)
    : null;

export const automationUserAgent: Rule = ({ input }, w) =>
  input.userAgent !== "" && isAutomation(input.userAgent)
    ? signal(
        "automation_user_agent",
        w("automation_user_agent"),
        "The user agent identifies automation (a bot, crawler or script).",
      )
    : null;

export const emptyUserAgent: Rule = ({ input }, w) =>
  input.userAgent.trim() === ""
    ? signal("empty_user_agent", w("empty_user_agent"), "No user agent was sent: browsers always send one.")
    : null;

export const ipVelocity: Rule = ({ ipState, input }, w) =>
  ipState.identitiesInWindow >= VELOCITY_IDENTITIES
    ? signal(
        "ip_velocity",
        w("ip_velocity"),
        `${input.ipText} touched ${ipState.identitiesInWindow} identities of the company in the last ${VELOCITY_WINDOW_MS / 60_000} min (the password-spray pattern).`,
      )
    : null;

export const reportedFraud: Rule = ({ ipState, history, input }, w) => {
  const reasons = [
    ...(ipState.reportedFraudulent ? [`${input.ipText} was reported fraudulent for the company`] : []),
    ...(input.userAgent !== "" && history.fraudulentUserAgents.includes(input.userAgent)
      ? ["this user agent was reported fraudulent for the identity"]
      : []),
  ];
  return reasons.length > 0 ? signal("reported_fraud", w("reported_fraud"), `${reasons.join("; ")}.`) : null;
};

export const userIdMismatch: Rule = ({ identity, input }, w) =>
  input.userId !== undefined && input.userId !== identity.externalId
    ? signal(
        "user_id_mismatch",
        w("user_id_mismatch"),
        "The platform's user id does not match this identity's external id.",
      )
    : null;

const RULES: readonly Rule[] = [
  identityDisabled,
  identityLocked,
  mfaChallengePending,
  recentFailures,
  newIp,
  newUserAgent,
  newCountry,
  ipChurn,
  impossibleTravel,
  reservedIp,
  denyListedIp,
  deniedCountry,
  automationUserAgent,
  emptyUserAgent,
  ipVelocity,
  reportedFraud,
  userIdMismatch,
];

/** Every signal that fires, in a fixed order. An allow-listed IP (and not deny-listed) drops the network signals. */
export function evaluateSignals(facts: RiskFacts): Signal[] {
  const weight = (name: SignalName, intensity = 1): number =>
    Math.round((facts.policy.weights[name] ?? DEFAULT_WEIGHTS[name]) * intensity * 10_000) / 10_000;
  const allowListed = facts.policy.allowCidrs.some((cidr) => cidrContains(cidr, facts.input.ip));
  return RULES.map((rule) => rule(facts, weight)).filter(
    (found): found is Signal => found !== null && !(allowListed && NETWORK_SIGNALS.has(found.name)),
  );
}
