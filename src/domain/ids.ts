/**
 * Prefixed ULIDs (`ses_01J...`): a type prefix, 48 bits of milliseconds and 80 random bits
 * in Crockford base32, so ids sort by creation time and cannot be guessed. Identities are the
 * exception: an identity's id is its Durable Object's id (src/identity/directory.ts).
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "ses" | "con" | "dlv" | "act" | "inc" | "asm" | "evt" | "cmp" | "key" | "req";

export function ulid(nowMs: number): string {
  let time = "";
  let t = Math.floor(nowMs);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let tail = "";
  for (let i = 0; i < 16; i++) tail += CROCKFORD[(random[i] ?? 0) & 31];
  return time + tail;
}

export function newId(prefix: IdPrefix, nowMs: number): string {
  return `${prefix}_${ulid(nowMs)}`;
}

/** ISO-8601 UTC with milliseconds, the one timestamp format of the API. */
export function isoTime(nowMs: number): string {
  return new Date(nowMs).toISOString();
}
