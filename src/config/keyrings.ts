import { type Keyring, parseKeyring } from "../domain/secret-box";
import type { Env } from "./env";

/** Keyrings parsed once per isolate (per secret value), not on every request of the hot path. */
const parsed = new Map<string, Keyring>();

function keyring(value: string | undefined, name: string): Keyring {
  const cacheKey = `${name}\u0000${value ?? ""}`;
  let ring = parsed.get(cacheKey);
  if (!ring) {
    ring = parseKeyring(value, name);
    parsed.set(cacheKey, ring);
  }
  return ring;
}

export function sessionKeyring(env: Env): Keyring {
  return keyring(env.SESSION_SIGNING_KEY, "SESSION_SIGNING_KEY");
}

export function totpKeyring(env: Env): Keyring {
  return keyring(env.TOTP_ENCRYPTION_KEYS, "TOTP_ENCRYPTION_KEYS");
}
