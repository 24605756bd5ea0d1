import { describe, expect, it } from "vitest";
import { firstUnmarkedMs, type RevocationMarks, sessionVerdict } from "../../src/domain/revocation";

const T = 1_750_000_000_000;
const NO_MARKS: RevocationMarks = { disabled: false, revokedBeforeMs: null, mfaRequiredFromMs: null };
const session = (issuedAtMs: number, revokedAtMs: number | null = null) => ({
  issuedAtMs,
  mfaVerifiedAtMs: issuedAtMs,
  revokedAtMs,
});

describe("the revocation rule", () => {
  it("leaves a session active when there is no mark", () => {
    expect(sessionVerdict(NO_MARKS, session(T))).toEqual({ active: true, mfaRequired: false });
  });

  it("revokes all sessions issued at or before the revoke-all mark, inclusive to the millisecond", () => {
    const marks = { ...NO_MARKS, revokedBeforeMs: T };
    expect(sessionVerdict(marks, session(T - 1))).toEqual({ active: false, reason: "revoked" });
    expect(sessionVerdict(marks, session(T))).toEqual({ active: false, reason: "revoked" });
    expect(sessionVerdict(marks, session(T + 1))).toEqual({ active: true, mfaRequired: false });
  });

  it("revokes a single session whatever the marks say", () => {
    expect(sessionVerdict(NO_MARKS, session(T, T + 5))).toEqual({ active: false, reason: "revoked" });
    expect(sessionVerdict({ ...NO_MARKS, revokedBeforeMs: T - 10 }, session(T, T + 5)).active).toBe(false);
  });

  it("requires MFA again from sessions verified at or before the force-mfa mark, inclusive", () => {
    const marks = { ...NO_MARKS, mfaRequiredFromMs: T };
    expect(sessionVerdict(marks, session(T - 1))).toEqual({ active: true, mfaRequired: true });
    expect(sessionVerdict(marks, session(T))).toEqual({ active: true, mfaRequired: true });
    expect(sessionVerdict(marks, session(T + 1))).toEqual({ active: true, mfaRequired: false });
  });

  it("answers disabled before revoked, whatever the session's times", () => {
    const marks = { disabled: true, revokedBeforeMs: T, mfaRequiredFromMs: T };
    expect(sessionVerdict(marks, session(T + 100))).toEqual({ active: false, reason: "disabled" });
    expect(sessionVerdict(marks, session(T - 100, T))).toEqual({ active: false, reason: "disabled" });
  });

  it("issues a new session strictly after every mark, even within the same millisecond", () => {
    expect(firstUnmarkedMs(NO_MARKS, T)).toBe(T);
    expect(firstUnmarkedMs({ ...NO_MARKS, revokedBeforeMs: T }, T)).toBe(T + 1);
    expect(firstUnmarkedMs({ ...NO_MARKS, mfaRequiredFromMs: T + 3 }, T)).toBe(T + 4);
    const marks = { ...NO_MARKS, revokedBeforeMs: T, mfaRequiredFromMs: T };
    const issued = firstUnmarkedMs(marks, T);
    expect(sessionVerdict(marks, session(issued))).toEqual({ active: true, mfaRequired: false });
  });
});
