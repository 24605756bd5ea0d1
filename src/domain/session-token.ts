import { decodeBase64Url, encodeBase64Url } from "./base64";
import type { Keyring } from "./secret-box";

/**
 * Session tokens: `hst_<keyId>.<base64url nonce ‖ AES-256-GCM ciphertext ‖ tag>`. The claims
 * are sealed, not merely signed: whoever holds a token learns nothing from it (not the company,
 * the identity, the external id nor the times), and changing a bit of it fails the GCM tag.
 * Self-contained for us: opening one needs the session key and nothing else, so introspection
 * never queries D1. The key id in front lets the keys of `SESSION_SIGNING_KEY` rotate; it is
 * also bound into the tag (additional data), so a token cannot be moved under another key id.
 */
export interface SessionClaims {
  /** Session id, `ses_...`. */
  sid: string;
  /** Company id: a token is only ever valid for the company that issued it. */
  cid: string;
  /** Identity id, `idn_...`. */
  iid: string;
  /** The identity's external id. */
  ext: string;
  issuedAtMs: number;
  expiresAtMs: number;
  mfaVerifiedAtMs: number;
}

const PREFIX = "hst_";
const MAX_TOKEN_LENGTH = 2048;
const FORMAT = 2;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
// The plaintext is padded to a multiple of this, so a token's length hardly tells the external id's.
const PAD_TO = 32;
// Each keyring entry is a root key; the AES key is derived from it for this one use (HKDF), so
// the same bytes reused elsewhere could never open or forge a token.
const HKDF_INFO = new TextEncoder().encode("hld-identity session token v2");

const derived = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function tokenKey(root: Uint8Array): Promise<CryptoKey> {
  let key = derived.get(root);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", root, "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: HKDF_INFO },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    derived.set(root, key);
  }
  return key;
}

const additionalData = (keyId: string) => new TextEncoder().encode(`${PREFIX}${FORMAT}.${keyId}`);

export async function signSessionToken(claims: SessionClaims, keyring: Keyring): Promise<string> {
  const root = keyring.keys.get(keyring.currentId);
  if (!root) throw new Error("session keyring has no current key");
  const json = JSON.stringify([
    FORMAT,
    claims.sid,
    claims.cid,
    claims.iid,
    claims.ext,
    claims.issuedAtMs,
    claims.expiresAtMs,
    claims.mfaVerifiedAtMs,
  ]);
  // JSON allows trailing whitespace: the padding needs no length field.
  const plaintext = new TextEncoder().encode(json.padEnd(Math.ceil(json.length / PAD_TO) * PAD_TO, " "));
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: additionalData(keyring.currentId) },
      await tokenKey(root),
      plaintext,
    ),
  );
  const body = new Uint8Array(NONCE_BYTES + sealed.length);
  body.set(nonce);
  body.set(sealed, NONCE_BYTES);
  return `${PREFIX}${keyring.currentId}.${encodeBase64Url(body)}`;
}

/** The claims of a genuine token, or null for anything else (garbage, truncated, tampered, unknown key). */
export async function readSessionToken(token: string, keyring: Keyring): Promise<SessionClaims | null> {
  if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(PREFIX)) return null;
  const [keyId, sealedText, ...rest] = token.slice(PREFIX.length).split(".");
  if (keyId === undefined || sealedText === undefined || rest.length > 0) return null;
  const root = keyring.keys.get(keyId);
  const body = decodeBase64Url(sealedText);
  if (!root || body === null || body.length < NONCE_BYTES + TAG_BYTES) return null;

  let fields: unknown;
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: body.subarray(0, NONCE_BYTES), additionalData: additionalData(keyId) },
      await tokenKey(root),
      body.subarray(NONCE_BYTES),
    );
    fields = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    return null;
  }
  if (!Array.isArray(fields) || fields.length !== 8 || fields[0] !== FORMAT) return null;
  const [, sid, cid, iid, ext, issuedAtMs, expiresAtMs, mfaVerifiedAtMs] = fields as unknown[];
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
