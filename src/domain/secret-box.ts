import { decodeBase64, decodeBase64Url, encodeBase64Url } from "./base64";

/**
 * AES-256-GCM sealing of TOTP secrets at rest, with key ids so keys can rotate: new seals use
 * the first key of `TOTP_ENCRYPTION_KEYS`, older keys stay listed to open what they sealed.
 * Format: `v1.<keyId>.<base64url iv>.<base64url ciphertext+tag>`.
 */

export interface Keyring {
  readonly currentId: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
}

const VERSION = "v1";
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const KEY_BYTES = 32;
// NIST SP 800-38D §8.2.2: 96-bit random IVs; at a few seals per enrolment the 2^32 bound is far off.
const IV_BYTES = 12;

/** `k2:BASE64,k1:BASE64`, first = current. A bad keyring is a deploy error, so it throws. */
export function parseKeyring(value: string | undefined, name = "TOTP_ENCRYPTION_KEYS"): Keyring {
  if (value === undefined || value.trim() === "") throw new Error(`${name} is not set`);
  const keys = new Map<string, Uint8Array>();
  let currentId: string | undefined;
  for (const [position, rawEntry] of value.split(",").entries()) {
    const entry = rawEntry.trim();
    const colon = entry.indexOf(":");
    const id = colon === -1 ? "" : entry.slice(0, colon);
    // Never echo key material in these messages: they may reach logs.
    if (!KEY_ID.test(id)) throw new Error(`${name} entry ${position + 1}: expected <keyId>:<base64 key>`);
    if (keys.has(id)) throw new Error(`${name}: key id "${id}" appears twice`);
    const key = decodeBase64(entry.slice(colon + 1));
    if (key === null || key.length !== KEY_BYTES) {
      throw new Error(`${name} key "${id}": expected base64 of ${KEY_BYTES} bytes`);
    }
    keys.set(id, key);
    currentId ??= id;
  }
  if (currentId === undefined) throw new Error(`${name} has no keys`);
  return { currentId, keys };
}

export async function sealSecret(keyring: Keyring, plaintext: string, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await importKey(keyring, keyring.currentId, "encrypt");
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) },
    key,
    new TextEncoder().encode(plaintext),
  );
  return [VERSION, keyring.currentId, encodeBase64Url(iv), encodeBase64Url(new Uint8Array(ciphertext))].join(".");
}

/** Throws on an unknown version or key id, a malformed seal, or a failed GCM tag (tamper or wrong aad). */
export async function openSecret(keyring: Keyring, sealed: string, aad: string): Promise<string> {
  const parts = sealed.split(".");
  const [version, keyId, ivText, ciphertextText] = parts;
  if (parts.length !== 4 || version !== VERSION || keyId === undefined) throw new Error("openSecret: malformed seal");
  const iv = ivText === undefined ? null : decodeBase64Url(ivText);
  const ciphertext = ciphertextText === undefined ? null : decodeBase64Url(ciphertextText);
  if (iv === null || iv.length !== IV_BYTES || ciphertext === null) throw new Error("openSecret: malformed seal");
  const key = await importKey(keyring, keyId, "decrypt");
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) },
      key,
      ciphertext,
    );
  } catch {
    throw new Error("openSecret: authentication failed");
  }
  return new TextDecoder().decode(plaintext);
}

function importKey(keyring: Keyring, keyId: string, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  const raw = keyring.keys.get(keyId);
  if (raw === undefined) throw new Error(`secret-box: unknown key id "${keyId}"`);
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, [usage]);
}
