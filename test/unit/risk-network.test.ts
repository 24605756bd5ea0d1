import { describe, expect, it } from "vitest";
import { canonicalIp, cidrContains, parseCidr, parseIp, specialRange } from "../../src/domain/risk/network";

const ip = (text: string) => {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`not an address: ${text}`);
  return parsed;
};
const cidr = (text: string) => {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`not a CIDR: ${text}`);
  return parsed;
};

describe("IP addresses", () => {
  it("accepts strict IPv4 and IPv6, refuses loose and malformed forms", () => {
    for (const good of ["1.1.1.1", "255.255.255.255", "::1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect(parseIp(good), good).not.toBeNull();
    }
    for (const bad of [
      "127.1",
      "0x7f.0.0.1",
      "010.0.0.1",
      "1.1.1",
      "256.1.1.1",
      "1.1.1.1/32",
      "fe80::1%eth0",
      "",
      "::g",
    ]) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it("unwraps an IPv4-mapped IPv6 address before judging it", () => {
    expect(canonicalIp(ip("::ffff:10.0.0.1"))).toBe("10.0.0.1");
    expect(specialRange(ip("::ffff:10.0.0.1"))).toBe("private");
    expect(specialRange(ip("::ffff:8.8.8.8"))).toBeNull();
  });

  it.each([
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["192.168.1.1", "private"],
    ["127.0.0.1", "loopback"],
    ["169.254.10.1", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["100.127.255.254", "carrierGradeNat"],
    ["192.0.2.1", "reserved"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.255", "reserved"],
    ["0.0.0.0", "unspecified"],
    ["::1", "loopback"],
    ["fc00::1", "uniqueLocal"],
    ["fd12:3456::1", "uniqueLocal"],
    ["fe80::1", "linkLocal"],
    ["2001:db8::1", "reserved"],
  ])("%s is in a %s range", (text, range) => {
    expect(specialRange(ip(text))).toBe(range);
  });

  it("finds no special range for public addresses of both families", () => {
    for (const text of ["1.1.1.1", "8.8.8.8", "100.128.0.1", "2606:4700::1111", "2a00:1450::1"]) {
      expect(specialRange(ip(text)), text).toBeNull();
    }
  });
});

describe("CIDR ranges", () => {
  it("matches the first and the last address of a range, and not the ones just outside", () => {
    const range = cidr("203.0.113.0/24");
    expect(cidrContains(range, ip("203.0.113.0"))).toBe(true);
    expect(cidrContains(range, ip("203.0.113.255"))).toBe(true);
    expect(cidrContains(range, ip("203.0.112.255"))).toBe(false);
    expect(cidrContains(range, ip("203.0.114.0"))).toBe(false);
    const v6 = cidr("2001:db8::/32");
    expect(cidrContains(v6, ip("2001:db8::"))).toBe(true);
    expect(cidrContains(v6, ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))).toBe(true);
    expect(cidrContains(v6, ip("2001:db9::"))).toBe(false);
  });

  it("handles /0, /32 and /128 edges, and never matches across families", () => {
    expect(cidrContains(cidr("0.0.0.0/0"), ip("255.255.255.255"))).toBe(true);
    expect(cidrContains(cidr("0.0.0.0/0"), ip("::1"))).toBe(false);
    expect(cidrContains(cidr("::/0"), ip("2606:4700::1111"))).toBe(true);
    expect(cidrContains(cidr("1.2.3.4/32"), ip("1.2.3.4"))).toBe(true);
    expect(cidrContains(cidr("1.2.3.4/32"), ip("1.2.3.5"))).toBe(false);
    expect(cidrContains(cidr("::1/128"), ip("::1"))).toBe(true);
    expect(cidrContains(cidr("::1/128"), ip("::2"))).toBe(false);
    expect(cidrContains(cidr("10.0.0.0/8"), ip("::ffff:10.9.9.9"))).toBe(true);
  });

  it("refuses malformed ranges", () => {
    for (const bad of [
      "10.0.0.0",
      "10.0.0.0/33",
      "::/129",
      "10.1/8",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "x/8",
      "10.0.0.0/ 8",
    ]) {
      expect(parseCidr(bad), bad).toBeNull();
    }
  });
});
