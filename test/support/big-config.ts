// Configs as large as an operator could write: many services of many servers, each service on its
// own VIP and each server on its own address (the worst case for every per-address table).
const VIPS = 100;

export interface BigConfigOptions {
  interface?: string;
  adminSocket?: string;
  /** Maglev slots per service; the default 65537 makes 5 000 services hold 650 MB of tables. */
  maglevTableSize?: number;
}

export function bigConfig(services: number, servers: number, opts: BigConfigOptions = {}): Record<string, unknown> {
  const hex = (n: number) => (n & 255).toString(16).padStart(2, '0');
  const quad = (first: number, n: number, last: number) => `${first}.${(n >> 8) & 255}.${n & 255}.${last}`;
  return {
    interface: opts.interface ?? 'eth1',
    ...(opts.adminSocket ? { adminSocket: opts.adminSocket } : {}),
    services: Array.from({ length: services }, (_, i) => ({
      name: `svc-${i}`,
      // At most 124 distinct VIPs (the packet filter's limit): services share them on other ports.
      vip: `10.0.${i % VIPS}.1`,
      port: 1000 + Math.floor(i / VIPS),
      ...(opts.maglevTableSize ? { maglevTableSize: opts.maglevTableSize } : {}),
      servers: Array.from({ length: servers }, (_, j) => ({ address: quad(100 + (i >> 16), i, j + 10), weight: 1 + (j % 3), mac: `02:00:${hex(i >> 8)}:${hex(i)}:00:${hex(j + 10)}` })),
    })),
  };
}
