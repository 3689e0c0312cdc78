// Dotted-quad IPv4 <-> 32-bit integer, for BPF constants and address arithmetic.
export function ipv4ToInt(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) throw new Error(`"${address}" is not an IPv4 address`);
  let value = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!/^\d{1,3}$/.test(part) || octet > 255) throw new Error(`"${address}" is not an IPv4 address`);
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}
