import { ipLiteralOf, RefusedAddress, WebhookAddressPolicy } from './webhook-address-policy';

describe('webhook address policy (SSRF, TARGETS S10)', () => {
  const policy = new WebhookAddressPolicy('');

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'IPv6 loopback'],
    ['10.1.2.3', 'RFC 1918'],
    ['172.16.0.1', 'RFC 1918'],
    ['172.31.255.255', 'RFC 1918'],
    ['192.168.1.1', 'RFC 1918'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.10.10', 'link-local'],
    ['fe80::1', 'IPv6 link-local'],
    ['fd00::1', 'IPv6 ULA'],
    ['fc00::1', 'IPv6 ULA'],
    ['fd00:ec2::254', 'AWS IPv6 metadata (ULA)'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'IPv6 unspecified'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses %s (%s)', (address) => {
    expect(policy.allows(address)).toBe(false);
    expect(() => policy.check([address])).toThrow(RefusedAddress);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => expect(policy.allows(address)).toBe(true),
  );

  it('refuses a name that resolves to public and private addresses alike', () => {
    expect(() => policy.check(['8.8.8.8', '10.0.0.1'])).toThrow(RefusedAddress);
    expect(() => policy.check([])).toThrow(RefusedAddress);
  });

  it('lets WEBHOOK_ALLOWED_HOSTS addresses and CIDRs through, and nothing beside them', () => {
    const allowing = new WebhookAddressPolicy('127.0.0.2, 10.20.0.0/16,fd12::/16');
    expect(allowing.allows('127.0.0.2')).toBe(true);
    expect(allowing.allows('::ffff:127.0.0.2')).toBe(true);
    expect(allowing.allows('10.20.3.4')).toBe(true);
    expect(allowing.allows('fd12::9')).toBe(true);
    expect(allowing.allows('127.0.0.1')).toBe(false);
    expect(allowing.allows('10.21.0.1')).toBe(false);
    expect(allowing.allows('169.254.169.254')).toBe(false);
  });

  it('tells IP literals (bracketed IPv6 too) from names', () => {
    expect(ipLiteralOf('127.0.0.1')).toBe('127.0.0.1');
    expect(ipLiteralOf('[::1]')).toBe('::1');
    expect(ipLiteralOf('localhost')).toBeNull();
    expect(ipLiteralOf('example.com')).toBeNull();
  });
});
