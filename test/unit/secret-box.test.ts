import { describe, expect, it } from "vitest";
import { openSecret, parseKeyring, sealSecret } from "../../src/domain/secret-box";

function randomKeyBase64(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

const K1 = randomKeyBase64();
const K2 = randomKeyBase64();
const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const AAD = "idn_01JTESTIDENTITY000000000";

describe("parseKeyring", () => {
  it("takes the first key as current and keeps the others", () => {
    const keyring = parseKeyring(`k2:${K2},k1:${K1}`);
    expect(keyring.currentId).toBe("k2");
    expect([...keyring.keys.keys()]).toEqual(["k2", "k1"]);
  });

  it("tolerates surrounding whitespace (a trailing newline from `wrangler secret put`)", () => {
    expect(parseKeyring(` k1:${K1} \n`).currentId).toBe("k1");
  });

  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["no id", K1],
    ["empty id", `:${K1}`],
    ["id with a dot", `k.1:${K1}`],
    ["short key", `k1:${btoa("short")}`],
    ["not base64", "k1:!!!!"],
    ["duplicate id", `k1:${K1},k1:${K2}`],
    ["empty entry", `k1:${K1},`],
  ])("throws on a %s keyring without echoing key material", (_name, value) => {
    let message = "";
    try {
      parseKeyring(value);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/TOTP_ENCRYPTION_KEYS/);
    expect(message).not.toContain(K1);
    expect(message).not.toContain(K2);
  });
});

describe("sealSecret / openSecret", () => {
  it("round-trips and does not contain the plaintext", async () => {
    const keyring = parseKeyring(`k1:${K1}`);
    const sealed = await sealSecret(keyring, SECRET, AAD);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(SECRET);
    expect(await openSecret(keyring, sealed, AAD)).toBe(SECRET);
  });

  it("uses a fresh IV every time", async () => {
    const keyring = parseKeyring(`k1:${K1}`);
    expect(await sealSecret(keyring, SECRET, AAD)).not.toBe(await sealSecret(keyring, SECRET, AAD));
  });

  it("still opens a seal made with an old key after a new key is prepended, and seals with the new one", async () => {
    const sealedOld = await sealSecret(parseKeyring(`k1:${K1}`), SECRET, AAD);
    const rotated = parseKeyring(`k2:${K2},k1:${K1}`);
    expect(await openSecret(rotated, sealedOld, AAD)).toBe(SECRET);
    const sealedNew = await sealSecret(rotated, SECRET, AAD);
    expect(sealedNew.startsWith("v1.k2.")).toBe(true);
    expect(await openSecret(rotated, sealedNew, AAD)).toBe(SECRET);
  });

  it("fails for an unknown key id (old key removed too early)", async () => {
    const sealedOld = await sealSecret(parseKeyring(`k1:${K1}`), SECRET, AAD);
    await expect(openSecret(parseKeyring(`k2:${K2}`), sealedOld, AAD)).rejects.toThrow(/unknown key id/);
  });

  it("fails for a different aad (a secret moved to another identity)", async () => {
    const keyring = parseKeyring(`k1:${K1}`);
    const sealed = await sealSecret(keyring, SECRET, AAD);
    await expect(openSecret(keyring, sealed, "idn_someone_else")).rejects.toThrow(/authentication failed/);
  });

  it("fails for tampered ciphertext or IV", async () => {
    const keyring = parseKeyring(`k1:${K1}`);
    const sealed = await sealSecret(keyring, SECRET, AAD);
    const [version, keyId, iv, ciphertext] = sealed.split(".") as [string, string, string, string];
    const flip = (text: string): string => (text[0] === "A" ? "B" : "A") + text.slice(1);
    await expect(openSecret(keyring, [version, keyId, iv, flip(ciphertext)].join("."), AAD)).rejects.toThrow();
    await expect(openSecret(keyring, [version, keyId, flip(iv), ciphertext].join("."), AAD)).rejects.toThrow();
    await expect(openSecret(keyring, [version, keyId, iv, ciphertext.slice(0, -2)].join("."), AAD)).rejects.toThrow();
  });

  it("fails for a key id swapped to another key", async () => {
    const keyring = parseKeyring(`k2:${K2},k1:${K1}`);
    const sealed = await sealSecret(keyring, SECRET, AAD);
    await expect(openSecret(keyring, sealed.replace(/^v1\.k2\./, "v1.k1."), AAD)).rejects.toThrow();
  });

  it.each([
    "",
    "v1",
    "v2.k1.AAAAAAAAAAAAAAAA.AAAA",
    "v1.k1.short.AAAA",
    "v1.k1.AAAAAAAAAAAAAAAA.AA+A",
    "v1.k1.a.b.c",
  ])("rejects malformed seal %j", async (sealed) => {
    await expect(openSecret(parseKeyring(`k1:${K1}`), sealed, AAD)).rejects.toThrow();
  });
});
