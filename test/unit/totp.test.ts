import { describe, expect, it } from "vitest";
import {
  base32Decode,
  base32Encode,
  generateTotpSecret,
  hotp,
  keyUri,
  looksLikeTotp,
  totpStep,
  verifyTotp,
} from "../../src/domain/totp";

const RFC_KEY = new TextEncoder().encode("12345678901234567890");
const RFC_KEY_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

describe("base32 (RFC 4648 §10 vectors, unpadded)", () => {
  const vectors: Array<[string, string]> = [
    ["", ""],
    ["f", "MY"],
    ["fo", "MZXQ"],
    ["foo", "MZXW6"],
    ["foob", "MZXW6YQ"],
    ["fooba", "MZXW6YTB"],
    ["foobar", "MZXW6YTBOI"],
  ];
  it.each(vectors)("%j <-> %s", (plain, encoded) => {
    const bytes = new TextEncoder().encode(plain);
    expect(base32Encode(bytes)).toBe(encoded);
    expect(base32Decode(encoded)).toEqual(bytes);
  });

  it("decodes case-insensitively and ignores padding", () => {
    expect(new TextDecoder().decode(base32Decode("mzxw6ytboi======"))).toBe("foobar");
    expect(base32Encode(RFC_KEY)).toBe(RFC_KEY_BASE32);
  });

  it("throws on a character outside the alphabet (programmer error)", () => {
    expect(() => base32Decode("MZXW1")).toThrow();
  });
});

describe("hotp: RFC 4226 Appendix D", () => {
  const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
  it.each(expected.map((code, counter) => [counter, code] as const))("counter %i -> %s", (counter, code) => {
    expect(hotp(RFC_KEY, counter, 6, "SHA-1")).toBe(code);
    expect(hotp(RFC_KEY, BigInt(counter), 6, "SHA-1")).toBe(code);
  });

  it("uses all 8 counter bytes: 2^32 + 5 is not 5", () => {
    // Reference value from Node's crypto HMAC-SHA1 over the 8-byte big-endian counter.
    expect(hotp(RFC_KEY, 2n ** 32n + 5n, 6, "SHA-1")).toBe("250721");
    expect(hotp(RFC_KEY, 2 ** 32 + 5, 6, "SHA-1")).toBe("250721");
    expect(hotp(RFC_KEY, 2n ** 40n, 8, "SHA-1")).toBe("57445672");
  });

  it("rejects counters and digit counts that cannot be right", () => {
    expect(() => hotp(RFC_KEY, -1, 6, "SHA-1")).toThrow(RangeError);
    expect(() => hotp(RFC_KEY, 2n ** 64n, 6, "SHA-1")).toThrow(RangeError);
    expect(() => hotp(RFC_KEY, 1.5, 6, "SHA-1")).toThrow(RangeError);
    expect(() => hotp(RFC_KEY, 0, 5, "SHA-1")).toThrow(RangeError);
  });
});

describe("TOTP: RFC 6238 Appendix B (SHA1, 8 digits)", () => {
  const table: Array<[number, number, string]> = [
    [59, 0x1, "94287082"],
    [1111111109, 0x23523ec, "07081804"],
    [1111111111, 0x23523ed, "14050471"],
    [1234567890, 0x273ef07, "89005924"],
    [2000000000, 0x3f940aa, "69279037"],
    [20000000000, 0x27bc86aa, "65353130"],
  ];

  it.each(table)("T=%i: step %i, hotp %s", (seconds, step, code) => {
    expect(totpStep(seconds * 1000)).toBe(step);
    expect(hotp(RFC_KEY, totpStep(seconds * 1000), 8, "SHA-1")).toBe(code);
  });

  it.each(table)("T=%i: verifyTotp accepts at step %i", (seconds, step, code) => {
    expect(verifyTotp(RFC_KEY_BASE32, code, seconds * 1000, { digits: 8 })).toEqual({ ok: true, step });
  });

  it("SHA-256 and SHA-512 rows at T=59 (RFC 6238 Appendix B seeds)", () => {
    const key32 = new TextEncoder().encode("12345678901234567890123456789012");
    const key64 = new TextEncoder().encode("1234567890123456789012345678901234567890123456789012345678901234");
    expect(hotp(key32, totpStep(59_000), 8, "SHA-256")).toBe("46119246");
    expect(hotp(key64, totpStep(59_000), 8, "SHA-512")).toBe("90693936");
  });
});

describe("totpStep", () => {
  it("floors to the period boundary", () => {
    expect(totpStep(0)).toBe(0);
    expect(totpStep(29_999)).toBe(0);
    expect(totpStep(30_000)).toBe(1);
    expect(totpStep(59_999, 60)).toBe(0);
    expect(totpStep(60_000, 60)).toBe(1);
  });
});

describe("verifyTotp window and input", () => {
  const nowMs = 1_700_000_000_000;
  const current = totpStep(nowMs);
  const codeAt = (step: number): string => hotp(RFC_KEY, step, 6, "SHA-1");

  it("accepts the current step and one either side, returning the matched step", () => {
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current), nowMs)).toEqual({ ok: true, step: current });
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current - 1), nowMs)).toEqual({ ok: true, step: current - 1 });
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current + 1), nowMs)).toEqual({ ok: true, step: current + 1 });
  });

  it("rejects two steps either side", () => {
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current - 2), nowMs)).toEqual({ ok: false });
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current + 2), nowMs)).toEqual({ ok: false });
  });

  it("honours windowSteps: 0", () => {
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current - 1), nowMs, { windowSteps: 0 })).toEqual({ ok: false });
    expect(verifyTotp(RFC_KEY_BASE32, codeAt(current), nowMs, { windowSteps: 0 })).toEqual({
      ok: true,
      step: current,
    });
  });

  it("accepts a lowercase secret", () => {
    expect(verifyTotp(RFC_KEY_BASE32.toLowerCase(), codeAt(current), nowMs)).toEqual({ ok: true, step: current });
  });

  it.each([
    "12345",
    "1234567",
    " 123456",
    "123456 ",
    "12a456",
    "",
    "１２３４５６",
    "-12345",
  ])("malformed code %j is {ok:false}", (code) => {
    expect(verifyTotp(RFC_KEY_BASE32, code, nowMs)).toEqual({ ok: false });
  });

  it("a 6-digit request against digits: 8 is {ok:false}", () => {
    expect(verifyTotp(RFC_KEY_BASE32, "123456", nowMs, { digits: 8 })).toEqual({ ok: false });
  });

  it("looksLikeTotp is exactly six ASCII digits", () => {
    expect(looksLikeTotp("012345")).toBe(true);
    expect(looksLikeTotp("01234")).toBe(false);
    expect(looksLikeTotp("0123456")).toBe(false);
    expect(looksLikeTotp("ABCD1234")).toBe(false);
  });
});

describe("generateTotpSecret", () => {
  it("is 160 bits: 32 base32 characters without padding, decoding to 20 bytes", () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
  });
});

describe("keyUri", () => {
  it("percent-encodes label and issuer per RFC 3986, keeping the label colon", () => {
    expect(keyUri({ secret: "JBSWY3DPEHPK3PXP", issuer: "Acme Enterprise", account: "alexander@enterprise.com" })).toBe(
      "otpauth://totp/Acme%20Enterprise:alexander%40enterprise.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Enterprise&algorithm=SHA1&digits=6&period=30",
    );
  });

  it("never uses '+' for a space and encodes RFC 3986 sub-delims", () => {
    const uri = keyUri({ secret: "JBSWY3DPEHPK3PXP", issuer: "A+B (it's)!", account: "a b*c" });
    expect(uri).toBe(
      "otpauth://totp/A%2BB%20%28it%27s%29%21:a%20b%2Ac?secret=JBSWY3DPEHPK3PXP&issuer=A%2BB%20%28it%27s%29%21&algorithm=SHA1&digits=6&period=30",
    );
  });
});
