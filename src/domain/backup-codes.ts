import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { randomString } from "./secrets";

/**
 * Backup codes: `LLLL-DDDD`, 26^4 * 10^4 ≈ 4.6e9 values (~32 bits), enough under the shared
 * attempt lockout. Stored only as keyed, salted hashes so a database leak alone cannot
 * recover or test them offline.
 */

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
const CANONICAL = /^[A-Z]{4}[0-9]{4}$/;
const INPUT = /^([A-Za-z]{4})-?([0-9]{4})$/;

/** `count` distinct codes; `randomString` rejection-samples, so every character is uniform. */
export function generateBackupCodes(count = 10): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError("generateBackupCodes: count must be positive");
  const codes = new Set<string>();
  // Distinct so "10 codes" means ten usable codes; a collision is ~1e-8 likely, retried.
  while (codes.size < count) codes.add(`${randomString(4, LETTERS)}-${randomString(4, DIGITS)}`);
  return [...codes];
}

/** `ABCD-1234`, `abcd1234` -> `ABCD1234`; anything else (including surrounding spaces) -> null. */
export function normalizeBackupCode(input: string): string | null {
  const match = INPUT.exec(input);
  if (!match) return null;
  return `${match[1] ?? ""}${match[2] ?? ""}`.toUpperCase();
}

/** A fresh per-identity salt: 16 bytes from the CSPRNG, hex. */
export function generateBackupCodeSalt(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * HMAC-SHA256(pepper, salt ":" canonical), hex. The pepper (a Worker secret) keeps a leaked
 * table from being brute-forced offline; the salt keeps equal codes of two identities apart.
 * Hex salts have no colon, so the message is unambiguous.
 */
export function hashBackupCode(canonical: string, pepper: Uint8Array, saltHex: string): string {
  // Hashing a non-canonical form would silently never match: that is a caller bug.
  if (!CANONICAL.test(canonical)) throw new Error("hashBackupCode: code is not canonical (normalizeBackupCode first)");
  if (!/^[0-9a-f]+$/i.test(saltHex)) throw new Error("hashBackupCode: salt must be hex");
  if (pepper.length < 16) throw new Error("hashBackupCode: pepper must be at least 16 bytes");
  return bytesToHex(hmac(sha256, pepper, utf8ToBytes(`${saltHex}:${canonical}`)));
}
