import { describe, expect, it } from "vitest";
import {
  generateBackupCodeSalt,
  generateBackupCodes,
  hashBackupCode,
  normalizeBackupCode,
} from "../../src/domain/backup-codes";

describe("generateBackupCodes", () => {
  it("gives ten distinct LLLL-DDDD codes by default", () => {
    const codes = generateBackupCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[A-Z]{4}-\d{4}$/);
  });

  it("honours count", () => {
    expect(generateBackupCodes(3)).toHaveLength(3);
  });

  it("uses the whole alphabet over many draws (no stuck characters)", () => {
    const seen = new Set(generateBackupCodes(400).join("").replace(/-/g, ""));
    expect(seen.size).toBe(36);
  });
});

describe("normalizeBackupCode", () => {
  it.each([
    ["abcd1234", "ABCD1234"],
    ["ABCD-1234", "ABCD1234"],
    ["AbCd-1234", "ABCD1234"],
    ["ABCD1234", "ABCD1234"],
  ])("%j -> %j", (input, canonical) => {
    expect(normalizeBackupCode(input)).toBe(canonical);
  });

  it.each([
    "",
    " ABCD-1234",
    "ABCD-1234 ",
    "ABCD--1234",
    "ABC-1234",
    "ABCDE-1234",
    "ABCD-123",
    "ABCD-12345",
    "1234-ABCD",
    "ABCD_1234",
    "ÀBCD-1234",
    "ABCD-１２３４",
    "123456",
  ])("%j -> null", (input) => {
    expect(normalizeBackupCode(input)).toBeNull();
  });
});

describe("hashBackupCode", () => {
  const pepper = new TextEncoder().encode("0123456789abcdef0123456789abcdef");

  it("is HMAC-SHA256(pepper, salt:code) in hex (fixed vector)", async () => {
    const key = await crypto.subtle.importKey("raw", pepper, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("00ff:ABCD1234"));
    const expected = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(hashBackupCode("ABCD1234", pepper, "00ff")).toBe(expected);
  });

  it("differs by salt and by pepper, and does not contain the code", () => {
    const hash = hashBackupCode("ABCD1234", pepper, "00ff");
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashBackupCode("ABCD1234", pepper, "01ff")).not.toBe(hash);
    expect(hashBackupCode("ABCD1234", new TextEncoder().encode("another-pepper-of-32-bytes-long!"), "00ff")).not.toBe(
      hash,
    );
    expect(hash).not.toContain("ABCD1234");
  });

  it("matches for every accepted spelling once normalized", () => {
    const salt = generateBackupCodeSalt();
    expect(salt).toMatch(/^[0-9a-f]{32}$/);
    const stored = hashBackupCode("ABCD1234", pepper, salt);
    for (const input of ["abcd1234", "ABCD-1234", "AbCd-1234"]) {
      const canonical = normalizeBackupCode(input);
      expect(canonical).not.toBeNull();
      expect(hashBackupCode(canonical ?? "", pepper, salt)).toBe(stored);
    }
  });

  it("throws on a non-canonical code (programmer error)", () => {
    expect(() => hashBackupCode("ABCD-1234", pepper, "00ff")).toThrow();
    expect(() => hashBackupCode("abcd1234", pepper, "00ff")).toThrow();
  });
});
