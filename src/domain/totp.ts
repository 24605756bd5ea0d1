import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

/**
 * TOTP (RFC 6238) over HOTP (RFC 4226), pure and synchronous: the time is an argument so the
 * caller decides which clock counts (server time only, per the API) and tests can pin it.
 */

const HASHES = { "SHA-1": sha1, "SHA-256": sha256, "SHA-512": sha512 } as const;
export type HotpAlgorithm = keyof typeof HASHES;

export type TotpVerification = { ok: true; step: number } | { ok: false };

export interface TotpVerifyOptions {
  periodSeconds?: number;
  digits?: number;
  /** Steps accepted either side of the current one (RFC 6238 §5.2 recommends at most one). */
  windowSteps?: number;
}

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;
/** 160 bits: the HMAC-SHA1 output size, the key length RFC 4226 §4 (R6) recommends. */
const SECRET_BYTES = 20;

/** RFC 4648 §6 base32 without padding; authenticator apps expect it unpadded in Key URIs. */
export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Case-insensitive, padding ignored. Only our own stored secrets reach this, so a character
 * outside the alphabet is a programmer error and throws.
 */
export function base32Decode(s: string): Uint8Array {
  const clean = s.toUpperCase().replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value === -1) throw new Error("base32Decode: character outside the RFC 4648 alphabet");
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[index++] = (buffer >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  // Leftover (< 8) bits are the zero fill of the last quantum (RFC 4648 §6), not data.
  return out;
}

export function generateTotpSecret(): string {
  return base32Encode(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** RFC 4226 §5.3 HOTP. `counter` may exceed 2^32 (RFC 6238 §4.2: T is not limited to 32 bits). */
export function hotp(keyBytes: Uint8Array, counter: number | bigint, digits: number, algorithm: HotpAlgorithm): string {
  let c: bigint;
  if (typeof counter === "bigint") {
    c = counter;
  } else {
    if (!Number.isSafeInteger(counter)) throw new RangeError("hotp: counter must be a safe integer");
    c = BigInt(counter);
  }
  if (c < 0n || c > MAX_COUNTER) throw new RangeError("hotp: counter must fit in 8 unsigned bytes");
  // RFC 4226 §5.3 allows 6..10 digits; a 31-bit truncated value has at most 10.
  if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new RangeError("hotp: digits must be 6..10");

  // RFC 4226 §5.2: the counter is 8 bytes, big-endian.
  const message = new Uint8Array(8);
  new DataView(message.buffer).setBigUint64(0, c, false);
  const mac = hmac(HASHES[algorithm], keyBytes, message);

  // RFC 4226 §5.4 dynamic truncation: the low nibble of the last byte picks a 4-byte window;
  // the top bit is masked so the value is the same signed or unsigned.
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary =
    (((mac[offset] ?? 0) & 0x7f) << 24) |
    ((mac[offset + 1] ?? 0) << 16) |
    ((mac[offset + 2] ?? 0) << 8) |
    (mac[offset + 3] ?? 0);
  return (binary % 10 ** digits).toString().padStart(digits, "0");
}

/** RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0. */
export function totpStep(nowMs: number, periodSeconds = 30): number {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError("totpStep: nowMs must be a non-negative time");
  if (!Number.isInteger(periodSeconds) || periodSeconds <= 0) {
    throw new RangeError("totpStep: periodSeconds must be a positive integer");
  }
  const periodMs = periodSeconds * 1000;
  const ms = Math.floor(nowMs);
  // Subtracting the remainder first keeps the division exact (no float rounding up a step).
  return (ms - (ms % periodMs)) / periodMs;
}

/** True when `code` is exactly `digits` ASCII digits (`\d` would be too, but say it plainly). */
function isAsciiDigits(code: string, digits: number): boolean {
  return code.length === digits && /^[0-9]+$/.test(code);
}

export function looksLikeTotp(code: string): boolean {
  return isAsciiDigits(code, 6);
}

/** Equal-length digit strings compared without an early exit, so timing does not reveal a prefix. */
function digitsEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks the current step and `windowSteps` either side (RFC 6238 §5.2). Every candidate is
 * computed and compared whatever the earlier ones gave. Returns the matched step so the caller
 * can refuse replays (RFC 6238 §5.2: a step at or before the last accepted one is refused).
 */
export function verifyTotp(
  secretBase32: string,
  code: string,
  nowMs: number,
  options: TotpVerifyOptions = {},
): TotpVerification {
  const periodSeconds = options.periodSeconds ?? 30;
  const digits = options.digits ?? 6;
  const windowSteps = options.windowSteps ?? 1;
  if (!Number.isInteger(windowSteps) || windowSteps < 0) {
    throw new RangeError("verifyTotp: windowSteps must be a non-negative integer");
  }
  if (!isAsciiDigits(code, digits)) return { ok: false };

  const key = base32Decode(secretBase32);
  const current = totpStep(nowMs, periodSeconds);
  let matched = -1;
  // Ascending order, so if two steps ever matched the later one wins: the stricter replay bound.
  for (let step = current - windowSteps; step <= current + windowSteps; step++) {
    if (step < 0) continue;
    if (digitsEqual(hotp(key, step, digits, "SHA-1"), code)) matched = step;
  }
  return matched >= 0 ? { ok: true, step: matched } : { ok: false };
}

/** RFC 3986 unreserved characters only: encodeURIComponent leaves !'()* bare, which RFC 3986 reserves. */
function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Key URI (Google Authenticator "Key Uri Format"). The colon between issuer and account is the
 * label separator and stays literal; the issuer is repeated as a parameter because some apps
 * read only one of the two. Written by hand because `otpauth` orders `issuer` before `secret`.
 */
export function keyUri(params: { secret: string; issuer: string; account: string }): string {
  const issuer = percentEncode(params.issuer);
  const label = `${issuer}:${percentEncode(params.account)}`;
  return `otpauth://totp/${label}?secret=${percentEncode(params.secret)}&issuer=${issuer}&algorithm=SHA1&digits=6&period=30`;
}
