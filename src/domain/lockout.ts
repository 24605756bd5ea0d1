/**
 * Failed-attempt counting and escalating lockout, as pure functions of the state and `now`.
 *
 * - After `maxFailedAttempts` consecutive failures the identity is locked for `lockoutSeconds`.
 * - When a temporary lock ends, the failure count starts again from 0.
 * - The lockouts are counted: once `maxTemporaryLockouts` temporary locks have happened with no
 *   success between them, the next lock is permanent (until an operator unlocks).
 * - A success resets the count and the escalation.
 */
export interface LockoutPolicy {
  maxFailedAttempts: number;
  lockoutSeconds: number;
  maxTemporaryLockouts: number;
}

export interface AttemptState {
  failedAttempts: number;
  /** End of the current temporary lock; null when not temporarily locked. */
  lockedUntilMs: number | null;
  permanentlyLocked: boolean;
  /** Temporary locks since the last success. */
  temporaryLockouts: number;
}

export const UNLOCKED: AttemptState = {
  failedAttempts: 0,
  lockedUntilMs: null,
  permanentlyLocked: false,
  temporaryLockouts: 0,
};

export type LockStatus = { locked: false } | { locked: true; permanent: boolean; lockedUntilMs: number | null };

export function lockStatus(state: AttemptState, nowMs: number): LockStatus {
  if (state.permanentlyLocked) return { locked: true, permanent: true, lockedUntilMs: null };
  if (state.lockedUntilMs !== null && nowMs < state.lockedUntilMs) {
    return { locked: true, permanent: false, lockedUntilMs: state.lockedUntilMs };
  }
  return { locked: false };
}

/** The state as it stands at `nowMs`: a temporary lock that has ended is cleared with its count. */
export function settle(state: AttemptState, nowMs: number): AttemptState {
  if (!state.permanentlyLocked && state.lockedUntilMs !== null && nowMs >= state.lockedUntilMs) {
    return { ...state, failedAttempts: 0, lockedUntilMs: null };
  }
  return state;
}

/** Counts one failure on a settled, unlocked state; says whether it caused a lock. */
export function recordFailure(
  state: AttemptState,
  nowMs: number,
  policy: LockoutPolicy,
): { state: AttemptState; lockedNow: boolean } {
  const failedAttempts = state.failedAttempts + 1;
  if (failedAttempts < policy.maxFailedAttempts) {
    return { state: { ...state, failedAttempts }, lockedNow: false };
  }
  if (state.temporaryLockouts >= policy.maxTemporaryLockouts) {
    return { state: { ...state, failedAttempts, lockedUntilMs: null, permanentlyLocked: true }, lockedNow: true };
  }
  return {
    state: {
      ...state,
      failedAttempts,
      lockedUntilMs: nowMs + policy.lockoutSeconds * 1000,
      temporaryLockouts: state.temporaryLockouts + 1,
    },
    lockedNow: true,
  };
}

export function attemptsRemaining(state: AttemptState, policy: LockoutPolicy): number {
  return Math.max(0, policy.maxFailedAttempts - state.failedAttempts);
}
