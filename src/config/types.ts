// The resolved configuration: every default filled in. The schema (schema.ts) produces this.
import type { FlowKey, Protocol, Scheduler } from '../native/binding.js';
import type { BgpConfig } from './ha-bgp.js';
import type { SecondChanceConfig } from './ha-second-chance.js';
import type { HEALTH_CHECK_TYPES, INGRESS_DROP_MODES, LOG_LEVELS, ON_SERVER_DOWN, TX_MODES } from './values.js';

export type TxModeSetting = (typeof TX_MODES)[number];
export type IngressDropSetting = (typeof INGRESS_DROP_MODES)[number];
export type HealthCheckType = (typeof HEALTH_CHECK_TYPES)[number];
export type OnServerDown = (typeof ON_SERVER_DOWN)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One server's health check, every default filled in (a server's keys override its service's). */
export interface HealthCheckConfig {
  type: HealthCheckType;           // default "tcp"
  port: number;                    // default: the service's port (required for tcp/http on an all-ports service)
  path: string;                    // http: default "/"
  expectStatus: [number, number];  // http: default [200, 399], inclusive
  command?: string;                // command: run with /bin/sh -c; exit 0 = healthy
  interval: number;                // seconds between checks, default 2
  timeout: number;                 // seconds a check may take, default 1
  rise: number;                    // consecutive successes to come up, default 2
  fall: number;                    // consecutive failures to go down, default 3
  flapWindow: number;              // seconds over which state changes are counted, default 60
  flapThreshold: number;           // changes within flapWindow that mark a server flapping, default 4; 0 = off
}

export interface ServerConfig {
  address: string;
  mac?: string;          // resolved from the neighbour table when absent
  weight: number;        // default 1; 0 drains
  healthCheck?: HealthCheckConfig; // effective check (service's, overridden by the server's); none = always up
}

export interface SorryServerConfig {
  address: string;
  mac?: string;
}

export interface ServiceConfig {
  name: string;
  vip: string;
  port: number;          // 0 = every port (the JSON omits "port")
  protocol: Protocol;    // default "tcp"
  flowKey: FlowKey;      // default "5tuple"
  scheduler: Scheduler;  // default "maglev"
  maglevTableSize: number; // default 65537, prime
  onServerDown: OnServerDown; // default "reschedule"
  healthCheck?: HealthCheckConfig; // the service's check as its servers inherit it
  sorryServer?: SorryServerConfig;
  servers: ServerConfig[];
}

/** Idle timeouts in seconds by protocol and TCP state (IPVS defaults). */
export interface FlowTimeouts {
  tcpEstablished: number; // 900
  tcpSynRecv: number;     // 60
  tcpFinWait: number;     // 120
  tcpClose: number;       // 10
  tcpLastAck: number;     // 30
  udp: number;            // 300
}

import type { HaMode, VrrpConfig } from './ha-vrrp.js';

export interface LasConfig {
  interface: string;
  egressInterface: string;        // default: interface
  workers: number;                // default 1
  cpus: number[];                 // default []: not pinned
  txMode: TxModeSetting;          // default "auto": sendmmsg on veth, ring elsewhere
  ingressDrop: IngressDropSetting; // default "tc"
  gratuitousArp: boolean;         // default true
  // per worker; default 1048576 entries, idleTimeout = largest flowTimeouts value, persistDirectory =
  // the admin socket's directory (false: flows live in process memory only)
  flowTable: { capacity: number; idleTimeout: number; persistDirectory: string | false };
  flowTimeouts: FlowTimeouts;
  // RX: blockCount blocks of blockSize (default 1 MiB x 32), handed over after retireTimeoutMs (10);
  // frameSize: the TX ring's slot, "auto" (the default) = from the egress MTU.
  ring: { blockSize: number; blockCount: number; frameSize: number | 'auto'; retireTimeoutMs: number };
  neighbourRefresh: number;       // seconds between MAC re-resolution, default 5
  adminSocket: string;            // default "/run/las/admin.sock"
  adminSocketMode: string;        // default "0600" (octal, as written); "0660" with adminSocketGroup
  adminSocketGroup?: string | number; // group name or gid given the socket; default: none (root only)
  metrics: { enabled: boolean; listen: string }; // default enabled on "127.0.0.1:9477"
  drainOnRemove: boolean;         // default true
  drainTimeout: number;           // seconds, default 300
  logLevel: LogLevel;             // default "info"
  ha: { mode: HaMode; vrrp: VrrpConfig; bgp?: BgpConfig; secondChance: SecondChanceConfig }; // default mode "none"; vrrp: ha-vrrp.ts; bgp (mode "bgp"): ha-bgp.ts; secondChance (any mode): ha-second-chance.ts
  services: ServiceConfig[];
}

