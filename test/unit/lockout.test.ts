import { describe, expect, it } from "vitest";
import {
  type AttemptState,
  type LockoutPolicy,
  lockStatus,
  recordFailure,
  settle,
  UNLOCKED,
} from "../../src/domain/lockout";

const policy: LockoutPolicy = { maxFailedAttempts: 5, lockoutSeconds: 900, maxTemporaryLockouts: 3 };

function fail(state: AttemptState, times: number, nowMs: number): AttemptState {
  let current = state;
  for (let i = 0; i < times; i++) current = recordFailure(settle(current, nowMs), nowMs, policy).state;
  return current;
}

describe("lockout", () => {
  it("locks for lockoutSeconds on the fifth consecutive failure", () => {
    const four = fail(UNLOCKED, 4, 0);
    expect(lockStatus(four, 0)).toEqual({ locked: false });
    const { state, lockedNow } = recordFailure(four, 1000, policy);
    expect(lockedNow).toBe(true);
    expect(lockStatus(state, 1000)).toEqual({ locked: true, permanent: false, lockedUntilMs: 901_000 });
    expect(lockStatus(state, 900_999).locked).toBe(true);
    expect(lockStatus(state, 901_000).locked).toBe(false);
  });

  it("starts counting from 0 when a temporary lock ends", () => {
    const locked = fail(UNLOCKED, 5, 0);
    const after = settle(locked, 900_000);
    expect(after.failedAttempts).toBe(0);
    expect(after.lockedUntilMs).toBeNull();
    expect(after.temporaryLockouts).toBe(1);
  });

  it("makes the lock after maxTemporaryLockouts temporary ones permanent", () => {
    let state = UNLOCKED;
    let nowMs = 0;
    for (let lock = 1; lock <= 3; lock++) {
      state = fail(state, 5, nowMs);
      expect(lockStatus(state, nowMs)).toMatchObject({ locked: true, permanent: false });
      nowMs += 900_000;
    }
    state = fail(state, 5, nowMs);
    expect(lockStatus(state, nowMs)).toEqual({ locked: true, permanent: true, lockedUntilMs: null });
    expect(lockStatus(state, nowMs + 10 * 365 * 86_400_000).locked).toBe(true);
  });
});
