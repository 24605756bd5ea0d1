import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { decodeBase64Url, encodeBase64Url } from "./base64";
import type { Keyring } from "./secret-box";

/**
 * Session tokens: `hst_<base64url claims>.<base64url HMAC-SHA256>`. Opaque to callers, but
 * self-contained for us: validating one needs the signing key and nothing else, so the hot
 * path (introspection) never queries D1. The key id inside lets signing keys rotate.
 */
export interface SessionClaims {
  /** Session id, `ses_...`. */
  sid: string;
  /** Company id: a token is only ever valid for the company that issued it. */
  cid: string;
  /** Identity id, `idn_...`. */
  iid: string;
  /** The identity's external id, which names its Durable Object. */
  ext: string;
  issuedAtMs: number;
  expiresAtMs: number;
  mfaVerifiedAtMs: number;
}

const PREFIX = "hst_";
const MAX_TOKEN_LENGTH = 2048;

export function signSessionToken(claims: SessionClaims, keyring: Keyring): string {
  const key = keyring.keys.get(keyring.currentId);
  if (!key) throw new Error("session keyring has no current key");
  const body = encodeBase64Url(
    utf8ToBytes(
      JSON.stringify([
        1,
        keyring.currentId,
        claims.sid,
        claims.cid,
        claims.iid,
        claims.ext,
        claims.issuedAtMs,
        claims.expiresAtMs,
        claims.mfaVerifiedAtMs,
      ]),
    ),
  );
  return `${PREFIX}${body}.${encodeBase64Url(hmac(sha256, key, utf8ToBytes(body)))}`;
}

/** The claims of a genuine token, or null for anything else (garbage, truncated, tampered, unknown key). */
export function readSessionToken(token: string, keyring: Keyring): SessionClaims | null {
  if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(PREFIX)) return null;
  const [body, signature, ...rest] = token.slice(PREFIX.length).split(".");
  if (body === undefined || signature === undefined || rest.length > 0) return null;
  const given = decodeBase64Url(signature);
  const bodyBytes = decodeBase64Url(body);
  if (given === null || bodyBytes === null) return null;

  let fields: unknown;
  try {
    fields = JSON.parse(new TextDecoder().decode(bodyBytes));
  } catch {
    return null;
  }
  if (!Array.isArray(fields) || fields.length !== 9 || fields[0] !== 1) return null;
  const [, kid, sid, cid, iid, ext, issuedAtMs, expiresAtMs, mfaVerifiedAtMs] = fields as unknown[];
  const key = typeof kid === "string" ? keyring.keys.get(kid) : undefined;
  if (!key) return null;
  if (!bytesEqual(hmac(sha256, key, utf8ToBytes(body)), given)) return null;
  if (
    typeof sid !== "string" ||
    typeof cid !== "string" ||
    typeof iid !== "string" ||
    typeof ext !== "string" ||
    !Number.isSafeInteger(issuedAtMs) ||
    !Number.isSafeInteger(expiresAtMs) ||
    !Number.isSafeInteger(mfaVerifiedAtMs)
  ) {
    return null;
  }
  return {
    sid,
    cid,
    iid,
    ext,
    issuedAtMs: issuedAtMs as number,
    expiresAtMs: expiresAtMs as number,
    mfaVerifiedAtMs: mfaVerifiedAtMs as number,
  };
}

/** Constant time over the expected length; a length mismatch fails without an early exit on content. */
function bytesEqual(expected: Uint8Array, given: Uint8Array): boolean {
  let diff = expected.length ^ given.length;
  for (let i = 0; i < expected.length; i++) diff |= (expected[i] ?? 0) ^ (given[i] ?? 0);
  return diff === 0;
}
