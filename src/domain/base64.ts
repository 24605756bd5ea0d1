/** Base64 and unpadded base64url (RFC 4648 §4, §5); decoders return null on malformed input. */

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function decodeBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The bytes of canonical unpadded base64url, or null. A final character whose unused low bits
 * are not zero decodes to the same bytes as the canonical one (RFC 4648 §3.5), so a token would
 * have several valid spellings: only the spelling that re-encodes identically is accepted.
 */
export function decodeBase64Url(text: string): Uint8Array | null {
  if (!BASE64URL.test(text)) return null;
  const bytes = decodeBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
  if (bytes === null || encodeBase64Url(bytes) !== text) return null;
  return bytes;
}
