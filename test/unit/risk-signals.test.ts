import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { distanceKm, speedKmh } from "../../src/domain/risk/geo";
import { parseCidr, parseIp } from "../../src/domain/risk/network";
import { recommend, riskScore, SIGNAL_NAMES, type Signal } from "../../src/domain/risk/score";
import {
  CHURN_IPS,
  DEFAULT_WEIGHTS,
  evaluateSignals,
  type IdentityHistory,
  LEARNING_ASSESSMENTS,
  type RiskFacts,
  VELOCITY_IDENTITIES,
} from "../../src/domain/risk/signals";

const NOW = 1_750_000_000_000;
const PARIS = { lat: 48.8566, lon: 2.3522 };
const SYDNEY = { lat: -33.8688, lon: 151.2093 };
const BROWSER =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

const seasoned: IdentityHistory = {
  assessments: 20,
  ips: { "1.1.1.1": NOW - 86_400_000 },
  userAgents: { [BROWSER]: NOW - 86_400_000 },
  countries: { FR: NOW - 86_400_000 },
  lastGeo: null,
  fraudulentUserAgents: [],
};

function facts(overrides: { input?: Partial<RiskFacts["input"]> } & Partial<Omit<RiskFacts, "input">> = {}): RiskFacts {
  const ipText = overrides.input?.ipText ?? "1.1.1.1";
  const { input, ...rest } = overrides;
  return {
    identity: {
      externalId: "u-1",
      disabled: false,
      locked: false,
      mfaChallengePending: false,
      failedAttempts: 0,
      maxFailedAttempts: 5,
    },
    history: seasoned,
    ipState: { identitiesInWindow: 1, reportedFraudulent: false },
    policy: { allowCidrs: [], denyCidrs: [], denyCountries: [], maxTravelKmh: 805, weights: {} },
    nowMs: NOW,
    ...rest,
    input: { ip: parseIp(ipText) ?? fail(ipText), ipText, userAgent: BROWSER, country: "FR", ...input },
  };
}
function fail(text: string): never {
  throw new Error(`bad ip ${text}`);
}
const names = (f: RiskFacts) => evaluateSignals(f).map((s) => s.name);

describe("Sentinel signals", () => {
  it("finds nothing for a known identity on its usual IP, browser and country", () => {
    expect(evaluateSignals(facts())).toEqual([]);
  });

  it("reports identity state: disabled, locked, a pending challenge, recent failures scaled by count", () => {
    const state = facts().identity;
    expect(names(facts({ identity: { ...state, disabled: true } }))).toEqual(["identity_disabled"]);
    expect(names(facts({ identity: { ...state, locked: true, failedAttempts: 5 } }))).toEqual(["identity_locked"]);
    expect(names(facts({ identity: { ...state, mfaChallengePending: true } }))).toEqual(["mfa_challenge_pending"]);
    const two = evaluateSignals(facts({ identity: { ...state, failedAttempts: 2 } }));
    const four = evaluateSignals(facts({ identity: { ...state, failedAttempts: 4 } }));
    expect(two[0]?.name).toBe("recent_failures");
    expect(four[0]?.weight).toBeGreaterThan(two[0]?.weight ?? 1);
  });

  it("weighs new IPs, user agents and countries little during the learning period", () => {
    const fresh = { ...seasoned, assessments: 0, ips: {}, userAgents: {}, countries: {} };
    const learning = evaluateSignals(facts({ history: fresh }));
    expect(learning.map((s) => s.name)).toEqual(["new_ip", "new_user_agent", "new_country"]);
    const learned = evaluateSignals(facts({ history: { ...fresh, assessments: LEARNING_ASSESSMENTS } }));
    for (const [i, s] of learned.entries()) expect(s.weight).toBeGreaterThan(learning[i]?.weight ?? 1);
    expect(learning[0]?.detail).toMatch(/Learning period/);
    expect(learned[0]?.weight).toBe(DEFAULT_WEIGHTS.new_ip);
  });

  it("reports churn when the identity used many IPs within the hour", () => {
    const ips = Object.fromEntries(Array.from({ length: CHURN_IPS - 1 }, (_, i) => [`8.8.8.${i}`, NOW - 60_000]));
    expect(names(facts({ history: { ...seasoned, ips: { ...ips, "1.1.1.1": NOW } } }))).toContain("ip_churn");
    const old = Object.fromEntries(Array.from({ length: CHURN_IPS }, (_, i) => [`8.8.8.${i}`, NOW - 7_200_000]));
    expect(names(facts({ history: { ...seasoned, ips: { ...old, "1.1.1.1": NOW } } }))).not.toContain("ip_churn");
  });

  it("computes great-circle distances (Paris to Sydney about 16,960 km) and travel speed", () => {
    expect(distanceKm(PARIS, SYDNEY)).toBeGreaterThan(16_900);
    expect(distanceKm(PARIS, SYDNEY)).toBeLessThan(17_000);
    expect(distanceKm(PARIS, PARIS)).toBe(0);
    expect(speedKmh(800, 3_600_000)).toBe(800);
  });

  it("reports impossible travel from Paris to Sydney a minute later, not a day later", () => {
    const history = { ...seasoned, lastGeo: { ...PARIS, atMs: NOW - 60_000 } };
    const travel = evaluateSignals(facts({ history, input: { geo: SYDNEY, country: "AU" } })).find(
      (s) => s.name === "impossible_travel",
    );
    expect(travel?.detail).toMatch(/km\/h, over the policy's 805 km\/h/);
    const dayLater = { ...seasoned, lastGeo: { ...PARIS, atMs: NOW - 86_400_000 } };
    expect(names(facts({ history: dayLater, input: { geo: SYDNEY } }))).not.toContain("impossible_travel");
  });

  it("reports reserved addresses, deny-listed IPs and denied countries; allow-listing drops network signals", () => {
    expect(names(facts({ input: { ipText: "10.0.0.7" } }))).toEqual(["new_ip", "reserved_ip"]);
    const deny = [parseCidr("203.0.113.0/24") ?? fail("cidr")];
    const allow = [parseCidr("203.0.113.0/24") ?? fail("cidr"), parseCidr("10.0.0.0/8") ?? fail("cidr")];
    const policy = { ...facts().policy, denyCidrs: deny };
    expect(names(facts({ policy, input: { ipText: "203.0.113.9" } }))).toContain("deny_listed_ip");
    const allowed = evaluateSignals(
      facts({ policy: { ...facts().policy, allowCidrs: allow }, input: { ipText: "10.0.0.7" } }),
    );
    expect(allowed).toEqual([]);
    // Deny wins over allow.
    const both = { ...facts().policy, allowCidrs: allow, denyCidrs: deny };
    expect(names(facts({ policy: both, input: { ipText: "203.0.113.9" } }))).toEqual(["deny_listed_ip"]);
    expect(names(facts({ policy: { ...facts().policy, denyCountries: ["KP"] }, input: { country: "KP" } }))).toContain(
      "denied_country",
    );
  });

  it("tells automation from a browser, and an empty user agent apart", () => {
    expect(names(facts({ input: { userAgent: "curl/8.5.0" } }))).toContain("automation_user_agent");
    expect(names(facts({ input: { userAgent: "python-requests/2.31" } }))).toContain("automation_user_agent");
    expect(names(facts({ input: { userAgent: "" } }))).toEqual(["empty_user_agent"]);
    expect(names(facts({ input: { userAgent: "HeadlessChrome/120" } }))).toContain("automation_user_agent");
    expect(names(facts())).not.toContain("automation_user_agent");
    // A bare Product/version is how enterprise agents and apps announce themselves: not automation.
    expect(names(facts({ input: { userAgent: "EnterpriseAgent/1.0" } }))).not.toContain("automation_user_agent");
  });

  it("reports one IP touching many identities, reported fraud and a user id mismatch", () => {
    expect(names(facts({ ipState: { identitiesInWindow: VELOCITY_IDENTITIES, reportedFraudulent: false } }))).toContain(
      "ip_velocity",
    );
    expect(names(facts({ ipState: { identitiesInWindow: 1, reportedFraudulent: true } }))).toEqual(["reported_fraud"]);
    expect(names(facts({ history: { ...seasoned, fraudulentUserAgents: [BROWSER] } }))).toEqual(["reported_fraud"]);
    expect(names(facts({ input: { userId: "someone-else" } }))).toEqual(["user_id_mismatch"]);
    expect(names(facts({ input: { userId: "u-1" } }))).toEqual([]);
  });

  it("uses the policy's weight overrides", () => {
    const policy = { ...facts().policy, weights: { empty_user_agent: 0.9 } };
    expect(evaluateSignals(facts({ policy, input: { userAgent: "" } }))[0]?.weight).toBe(0.9);
  });

  it("is deterministic: the same facts give the same signals and score", () => {
    const f = facts({ input: { ipText: "10.0.0.7", userAgent: "" } });
    expect(evaluateSignals(f)).toEqual(evaluateSignals(f));
    expect(riskScore(evaluateSignals(f))).toBe(riskScore(evaluateSignals(f)));
  });
});

describe("the risk score", () => {
  const signalArb = fc.record({
    name: fc.constantFrom(...SIGNAL_NAMES),
    weight: fc.double({ min: 0, max: 1, noNaN: true }),
    detail: fc.constant("d"),
  });

  it("stays in [0, 1] and never falls when a signal is added", () => {
    fc.assert(
      fc.property(fc.array(signalArb, { maxLength: 17 }), signalArb, (signals: Signal[], extra: Signal) => {
        const before = riskScore(signals);
        const after = riskScore([...signals, extra]);
        expect(before).toBeGreaterThanOrEqual(0);
        expect(after).toBeLessThanOrEqual(1);
        expect(after).toBeGreaterThanOrEqual(before);
      }),
      { seed: 20261123, numRuns: 500 },
    );
  });

  it("never falls when a weight is raised, and ignores the signals' order", () => {
    fc.assert(
      fc.property(
        fc.array(signalArb, { minLength: 1, maxLength: 17 }),
        fc.nat(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (signals: Signal[], index: number, raise: number) => {
          const i = index % signals.length;
          const raised = signals.map((s, j) => (j === i ? { ...s, weight: Math.min(1, s.weight + raise) } : s));
          expect(riskScore(raised)).toBeGreaterThanOrEqual(riskScore(signals));
          expect(riskScore([...signals].reverse())).toBe(riskScore(signals));
        },
      ),
      { seed: 20261124, numRuns: 500 },
    );
  });

  it("recommends by the thresholds, and denies a denying signal whatever the score", () => {
    const thresholds = { challengeThreshold: 0.3, denyThreshold: 0.7 };
    const s = (name: Signal["name"], weight: number): Signal => ({ name, weight, detail: "" });
    expect(recommend([], 0, thresholds)).toBe("allow");
    expect(recommend([s("new_ip", 0.3)], 0.3, thresholds)).toBe("challenge");
    expect(recommend([s("impossible_travel", 0.7)], 0.7, thresholds)).toBe("deny");
    expect(recommend([s("identity_disabled", 0)], 0, thresholds)).toBe("deny");
    expect(recommend([s("deny_listed_ip", 0.01)], 0.01, thresholds)).toBe("deny");
    expect(riskScore([s("new_ip", 0.5), s("new_country", 0.5)])).toBe(0.75);
  });
});
