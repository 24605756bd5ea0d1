import ipaddr from "ipaddr.js";

/**
 * IP addresses and ranges for Sentinel, on ipaddr.js (well kept, both families, CIDR matching,
 * the IANA special-purpose ranges). Its parser also takes loose forms (`127.1`, `0x7f.1`), which
 * no client sends and which hide what an address is: only the four-part dotted decimal IPv4
 * and standard IPv6 are accepted. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is unwrapped
 * to the IPv4 address it carries before anything looks at it.
 */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** The address, unwrapped if IPv4-mapped, or null for anything that is not a strict address. */
export function parseIp(text: string): IpAddress | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes("%") || !ipaddr.IPv6.isValid(text)) return null;
  const address = ipaddr.IPv6.parse(text);
  return address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

/** A CIDR range, `address/bits`, with the same strictness as `parseIp` (no loose IPv4 forms). */
export interface Cidr {
  text: string;
  range: [IpAddress, number];
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  if (slash === -1) return null;
  const address = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return null;
  const strictV4 = ipaddr.IPv4.isValidFourPartDecimal(address);
  if (!strictV4 && (address.includes("%") || !ipaddr.IPv6.isValid(address))) return null;
  const prefix = Number(bits);
  if (prefix > (strictV4 ? 32 : 128)) return null;
  return { text, range: [ipaddr.parse(address), prefix] };
}

/** Whether `address` lies in `cidr` (an address never matches a range of the other family). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  const [network] = cidr.range;
  if (network.kind() !== address.kind()) return false;
  return address.match(cidr.range as [typeof address, number]);
}

/**
 * The special-purpose range `address` belongs to (`private`, `loopback`, `linkLocal`,
 * `carrierGradeNat`, `uniqueLocal`, `reserved` (documentation and benchmarking included),
 * `multicast`, `unspecified`, ...), or null for an ordinary public unicast address.
 */
export function specialRange(address: IpAddress): string | null {
  const range = address.range();
  return range === "unicast" ? null : range;
}

/** The address in its one canonical spelling, for history and velocity keys. */
export function canonicalIp(address: IpAddress): string {
  return address.toString();
}
