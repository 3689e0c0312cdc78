// The resolved configuration: every default filled in. The schema (schema.ts) produces this.
import type { FlowKey, Protocol, Scheduler } from '../native/binding.js';

export type TxModeSetting = 'auto' | 'ring' | 'send' | 'sendmmsg';
export type IngressDropSetting = 'tc' | 'none';

export interface ServerConfig {
  address: string;
  mac?: string;          // resolved from the neighbour table when absent
  weight: number;        // default 1; 0 drains
}

export interface ServiceConfig {
  name: string;
  vip: string;
  port: number;          // 0 = every port (the JSON omits "port")
  protocol: Protocol;    // default "tcp"
  flowKey: FlowKey;      // default "5tuple"
  scheduler: Scheduler;  // default "maglev"
  maglevTableSize: number; // default 65537, prime
  servers: ServerConfig[];
}

export interface LasConfig {
  interface: string;
  egressInterface: string;        // default: interface
  workers: number;                // default 1
  cpus: number[];                 // default []: not pinned
  txMode: TxModeSetting;          // default "auto": send on veth, ring elsewhere
  ingressDrop: IngressDropSetting; // default "tc"
  gratuitousArp: boolean;         // default true
  flowTable: { capacity: number; idleTimeout: number }; // per worker; default 1048576 entries, 300 s
  ring: { blockSize: number; blockCount: number; frameSize: number; retireTimeoutMs: number }; // default 1 MiB x 32, 2048, 10 ms
  neighbourRefresh: number;       // seconds between MAC re-resolution, default 5
  adminSocket: string;            // default "/run/las/admin.sock"
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error'; // default "info"
  services: ServiceConfig[];
}
