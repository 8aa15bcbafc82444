import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

/** Why a webhook address is refused, for the 400 detail and the delivery's `lastError`. */
export class RefusedAddress extends Error {
  constructor(readonly address: string) {
    super(`${address} is a loopback, private, link-local or metadata address (SSRF)`);
  }
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Which IP addresses a webhook may reach (SPEC section 11, TARGETS S10). Only global
 * unicast: loopback, RFC 1918, carrier-grade NAT, link-local (169.254.169.254, the cloud
 * metadata address, among them), IPv6 ULA (fd00:ec2::254 too), multicast, reserved and
 * unspecified addresses are refused, as are the IPv4-mapped forms of them and every
 * NAT64, 6to4 and Teredo address (they lead to an IPv4 address chosen by the URL), unless
 * an address or CIDR of WEBHOOK_ALLOWED_HOSTS covers the address.
 */
export class WebhookAddressPolicy {
  private readonly allowed: Range[];

  constructor(allowedHosts: string) {
    this.allowed = allowedHosts
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .map((entry) => {
        if (entry.includes('/')) return ipaddr.parseCIDR(entry);
        const address = ipaddr.parse(entry);
        return [address, address.kind() === 'ipv4' ? 32 : 128] as Range;
      });
  }

  /** Whether a webhook may connect to `address` (an IP literal, IPv6 without brackets). */
  allows(address: string): boolean {
    if (!ipaddr.isValid(address)) return false;
    const parsed = ipaddr.parse(address);
    if (this.allowed.some((range) => matches(parsed, range))) return true;
    return isPublic(parsed);
  }

  /** Throws RefusedAddress unless every address is allowed (a name may not mix them). */
  check(addresses: readonly string[]): void {
    if (addresses.length === 0) throw new RefusedAddress('no address');
    const refused = addresses.find((address) => !this.allows(address));
    if (refused !== undefined) throw new RefusedAddress(refused);
  }
}

function matches(address: ipaddr.IPv4 | ipaddr.IPv6, [network, bits]: Range): boolean {
  if (address.kind() === network.kind()) return address.match(network, bits);
  // An IPv4 range also covers the IPv4-mapped IPv6 form of its addresses.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return matches((address as ipaddr.IPv6).toIPv4Address(), [network, bits]);
  }
  return false;
}

function isPublic(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (address.kind() === 'ipv4') return address.range() === 'unicast';
  const v6 = address as ipaddr.IPv6;
  // Forms that carry an IPv4 address are judged by that address.
  if (v6.isIPv4MappedAddress()) return isPublic(v6.toIPv4Address());
  return v6.range() === 'unicast';
}

/** The host of a URL as an IP literal, or null for a name (IPv6 brackets removed). */
export function ipLiteralOf(hostname: string): string | null {
  const bare =
    hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) !== 0 ? bare : null;
}
