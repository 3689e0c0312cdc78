// JSON config -> resolved LasConfig. zod gives the structure (objects, arrays, defaults, unknown
// keys); each leaf is checked by a small function that words its own error, because an operator
// needs "what is wrong and how to fix it", not "Expected number, received string".
// Rules that relate fields to each other (duplicates, conflicts, sizes) run in crossCheck() on the
// raw input so that they are reported even when some other field is broken: every error at once.
import { z } from 'zod';
import type { FlowTimeouts, HealthCheckConfig, LasConfig, ServerConfig, ServiceConfig } from './types.js';
import { describeUnsafe, findUnsafe, printable } from './printable.js';
import { MAX_VIPS } from '../control/bpf-program.js';

export interface ConfigError {
  path: string;    // "services[0].servers[1].mac"; "" for the whole file
  message: string; // what is wrong; how to fix it
}

/** `more`: errors found but not listed (past MAX_ERRORS_LISTED, in document order). */
export type ConfigResult = { ok: true; config: LasConfig } | { ok: false; errors: ConfigError[]; more?: number };

/** Enough to act on; a generated file with a million mistakes must not print a million lines. */
export const MAX_ERRORS_LISTED = 100;

export const DEFAULTS = {
  workers: 1,
  txMode: 'auto',
  ingressDrop: 'tc',
  gratuitousArp: true,
  flowTable: { capacity: 1_048_576 }, // idleTimeout: the largest flowTimeouts value
  // IPVS's defaults (ipvsadm --set and the per-state table), seconds.
  flowTimeouts: { tcpEstablished: 900, tcpSynRecv: 60, tcpFinWait: 120, tcpClose: 10, tcpLastAck: 30, udp: 300 },
  ring: { blockSize: 1_048_576, blockCount: 32, frameSize: 'auto' as const, retireTimeoutMs: 10 },
  neighbourRefresh: 5,
  adminSocket: '/run/las/admin.sock',
  adminSocketMode: '0600',
  metricsListen: '127.0.0.1:9477',
  drainOnRemove: true,
  drainTimeout: 300,
  logLevel: 'info',
  port: 0,
  protocol: 'tcp',
  flowKey: '5tuple',
  scheduler: 'maglev',
  maglevTableSize: 65_537,
  weight: 1,
  onServerDown: 'reschedule',
  healthCheck: { type: 'tcp', path: '/', expectStatus: [200, 399], interval: 2, timeout: 1, rise: 2, fall: 3, flapWindow: 60, flapThreshold: 4 },
} as const;

export const SCHEDULERS = ['maglev', 'wrr', 'rr', 'wlc', 'sh'] as const;
export const FLOW_TIMEOUT_KEYS = ['tcpEstablished', 'tcpSynRecv', 'tcpFinWait', 'tcpClose', 'tcpLastAck', 'udp'] as const;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
const MAX_WORKERS = 64;
// The addon's limits (native/addon/convert.cc): service and server indexes are 16 bits, 0xffff means none.
const MAX_SERVICES = 0xfffe;
const MAX_SERVERS = 0xfffe;

// ---------- leaf checks ----------

class Invalid {
  constructor(readonly message: string) {}
}
type Check<T> = (value: unknown) => T | Invalid;

// Issues zod may still collect in one parseConfig() call. A hostile file can hold millions of
// unknown keys or bad values; past this budget they are only counted (cheap), never worded or kept.
const ISSUE_BUDGET = 1000;
const issues = { left: ISSUE_BUDGET, suppressed: 0 };

function addIssue(ctx: z.RefinementCtx, message: () => string): void {
  if (issues.left > 0) {
    issues.left--;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: message() });
  } else issues.suppressed++; // parseConfig fails on it: the parse result is never used
}

/** A zod leaf from a check; `missing` makes the field required and says what to write. */
function leaf<T>(check: Check<T>, missing?: string) {
  return z.unknown().transform((value, ctx): T => {
    const result = value === undefined && missing !== undefined ? new Invalid(`missing; ${missing}`) : check(value);
    if (result instanceof Invalid) {
      addIssue(ctx, () => result.message);
      return z.NEVER;
    }
    return result;
  });
}

/** How a bad value is quoted back: strings in quotes, containers by kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

// A quoted number is the most common JSON slip; say so instead of a bare "not an integer".
function quotedNumberHint(value: unknown): string {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? ' (write numbers without quotes)' : '';
}

function integer(min: number, max: number, fix: string): Check<number> {
  return (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? value
      : new Invalid(`${describe(value)} is not an integer from ${min} to ${max}${quotedNumberHint(value)}; ${fix}`);
}

function positive(max: number, fix: string): Check<number> {
  return (value) =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= max
      ? value
      : new Invalid(`${describe(value)} is not a number above 0 and at most ${max}${quotedNumberHint(value)}; ${fix}`);
}

function oneOf<T extends string>(values: readonly T[], fix: string): Check<T> {
  return (value) => {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    const near = typeof value === 'string' ? nearest(value, values) : undefined;
    const list = values.map((v) => `"${v}"`).join(', ');
    return new Invalid(`${describe(value)} is not one of ${list}; ${near ? `did you mean "${near}"? ` : ''}${fix}`);
  };
}

const boolean: Check<boolean> = (value) =>
  typeof value === 'boolean' ? value : new Invalid(`${describe(value)} is not true or false; write true or false without quotes`);

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(value: unknown): value is string {
  return typeof value === 'string' && IPV4.test(value);
}

/** A unicast IPv4 host address: what a VIP or a real server can be. */
function unicastIPv4(example: string): Check<string> {
  return (value) => {
    if (!isIPv4(value)) {
      let hint = '';
      if (typeof value === 'string' && value.includes(':')) hint = ' (LAS balances IPv4 only)';
      else if (typeof value === 'string' && value.includes('/')) hint = ' (leave out the prefix length)';
      else if (typeof value === 'string' && /(^|\.)0\d/.test(value)) hint = ' (no leading zeros)';
      return new Invalid(`${describe(value)} is not a dotted IPv4 address${hint}; write four numbers 0-255 like "${example}"`);
    }
    const first = Number(value.split('.')[0]);
    if (first === 0 || first === 127 || first >= 224) {
      return new Invalid(`${describe(value)} is not a unicast host address (0.x, 127.x, multicast and 240.x+ cannot be balanced); use an address of the segment like "${example}"`);
    }
    return value;
  };
}

// 0 means "every port" internally, but written out it looks like a mistake: omitting says it plainly.
const port: Check<number> = (value) =>
  value === 0
    ? new Invalid('0 is not a port; leave "port" out to balance every port of the VIP')
    : integer(1, 65535, 'leave "port" out to balance every port of the VIP')(value);

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

const mac: Check<string> = (value) => {
  const fix = 'write six hex byte pairs like "02:00:00:00:00:12" or leave "mac" out to resolve it from the neighbour table';
  if (typeof value !== 'string' || !MAC.test(value)) return new Invalid(`${describe(value)} is not a MAC address; ${fix}`);
  // Bit 0 of the first byte marks group addresses: a frame to one would reach every server.
  if (parseInt(value.slice(0, 2), 16) & 1) return new Invalid(`${describe(value)} is a multicast/broadcast MAC; a real server has a unicast MAC: ${fix}`);
  if (/^(00:){5}00$/.test(value)) return new Invalid(`"00:00:00:00:00:00" is not a usable MAC; ${fix}`);
  return value.toLowerCase();
};

/** Kernel rule (dev_valid_name): 1..15 bytes, not "." or "..", no "/", ":" or whitespace. */
function interfaceName(value: unknown): string | Invalid {
  if (typeof value === 'string' && value.length >= 1 && Buffer.byteLength(value) <= 15 && value !== '.' && value !== '..' && !/[/:\s]/.test(value)) {
    return value;
  }
  return new Invalid(`${describe(value)} is not an interface name; use the kernel name shown by "ip link" (1 to 15 characters, no "/", ":" or spaces), e.g. "eth1"`);
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const serviceName: Check<string> = (value) =>
  typeof value === 'string' && SERVICE_NAME.test(value)
    ? value
    : new Invalid(`${describe(value)} is not a service name; use 1 to 64 letters, digits, ".", "_" or "-" starting with a letter or digit (it labels logs and counters)`);

const socketPath: Check<string> = (value) => {
  // sun_path is 108 bytes including the terminating NUL.
  if (typeof value === 'string' && value.startsWith('/') && Buffer.byteLength(value) <= 107 && !value.includes('\0')) return value;
  return new Invalid(`${describe(value)} is not an absolute socket path of at most 107 bytes; use e.g. "/run/las/admin.sock" (the default)`);
};

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

const MAX_MAGLEV = 1 << 24; // 64 MiB of lookup table per service is already generous

const maglevTableSize: Check<number> = (value) => {
  const fix = 'Maglev needs a prime table size of at least 7, ideally over 100 x the number of servers: use 65537 (the default) or a larger prime such as 655373';
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 7 || value > MAX_MAGLEV) {
    return new Invalid(`${describe(value)} is not an integer from 7 to ${MAX_MAGLEV}${quotedNumberHint(value)}; ${fix}`);
  }
  if (!isPrime(value)) return new Invalid(`${value} is not prime; ${fix}`);
  return value;
};

/**
 * The smallest RX block: it must hold the largest frame any interface delivers to a packet socket, a
 * 64 KiB GRO/TSO super-frame with its headers (the addon's ringNeeds() says the same; a test checks).
 */
export const MIN_RX_BLOCK_SIZE = 131_072;
export const MAX_TX_FRAME_SIZE = 1 << 20;

const blockSize: Check<number> = (value) => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_RX_BLOCK_SIZE && value <= 1 << 28 && (value & (value - 1)) === 0) return value;
  const small = typeof value === 'number' && value > 0 && value < MIN_RX_BLOCK_SIZE ? ' (a block must hold a 64 KiB GRO/TSO super-frame)' : '';
  return new Invalid(`${describe(value)} is not a power of two from ${MIN_RX_BLOCK_SIZE} to ${1 << 28}${small}${quotedNumberHint(value)}; use 1048576 (the default) or e.g. 262144, 4194304`);
};

const frameSize: Check<number | 'auto'> = (value) => {
  if (value === 'auto') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 128 && value <= MAX_TX_FRAME_SIZE && value % 16 === 0) return value;
  return new Invalid(`${describe(value)} is not "auto" or a multiple of 16 from 128 to ${MAX_TX_FRAME_SIZE}${quotedNumberHint(value)}; it is the TX ring's slot and must hold a full-MTU frame with its headers: leave it out ("auto" sizes it from the egress MTU)`);
};

const httpPath: Check<string> = (value) =>
  typeof value === 'string' && value.startsWith('/') && value.length <= 1024 && !/[\s\0]/.test(value)
    ? value
    : new Invalid(`${describe(value)} is not an HTTP path; write the path the check GETs, starting with "/", without spaces, e.g. "/health"`);

const statusRange: Check<[number, number]> = (value) => {
  const fix = 'write the accepted HTTP status codes as [lowest, highest], e.g. [200, 399] (the default)';
  if (!Array.isArray(value) || value.length !== 2) return new Invalid(`${describe(value)} is not a status range; ${fix}`);
  const [lo, hi] = value as unknown[];
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599;
  if (!ok(lo) || !ok(hi)) return new Invalid(`[${describe(lo)}, ${describe(hi)}] holds something that is not an HTTP status code (100-599); ${fix}`);
  if (lo > hi) return new Invalid(`[${lo}, ${hi}] is reversed; ${fix}`);
  return [lo, hi];
};

const commandString: Check<string> = (value) =>
  typeof value === 'string' && value.trim() !== '' && value.length <= 4096 && !value.includes('\0')
    ? value
    : new Invalid(`${describe(value)} is not a command; write a shell command line that exits 0 when the server is healthy, e.g. "/usr/local/bin/check-db $LAS_SERVER"`);

/** "host:port" with a dotted IPv4 host (0.0.0.0 for every address). */
const listenAddress: Check<string> = (value) => {
  const fix = 'write "address:port" like "127.0.0.1:9477" (the default); any other address exposes the metrics to that network';
  if (typeof value !== 'string') return new Invalid(`${describe(value)} is not a listen address; ${fix}`);
  const m = /^(.*):(\d{1,5})$/.exec(value);
  if (!m || !isIPv4(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) return new Invalid(`${describe(value)} is not a listen address; ${fix}`);
  return value;
};

/** A file mode written in octal, like chmod: "0600", "660". */
const octalMode: Check<string> = (value) =>
  typeof value === 'string' && /^0?[0-7]{3}$/.test(value)
    ? value.padStart(4, '0')
    : new Invalid(`${describe(value)} is not a file mode; write it in octal as a string, like "0600" (root only, the default) or "0660" (root and the socket's group)`);

/** A group that may use the admin socket: a name as in /etc/group, or a numeric gid. */
const groupName: Check<string | number> = (value) => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 4294967295) return value;
  if (typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(value)) return value;
  return new Invalid(`${describe(value)} is not a group; write a group name like "las-admin" or a numeric gid: its members may use the admin socket (the mode is then "0660" unless adminSocketMode says otherwise)`);
};

/** The resolved adminSocketMode as a number. */
export function parseMode(mode: string): number {
  return parseInt(mode, 8);
}

// ---------- unknown keys ----------

// Known keys per object, also used to sort errors into document order and to spot a key that
// is valid one level up or down ("weight" on a service).
const KEYS = {
  top: [
    'interface', 'egressInterface', 'workers', 'cpus', 'txMode', 'ingressDrop', 'gratuitousArp', 'flowTable', 'flowTimeouts', 'ring',
    'neighbourRefresh', 'adminSocket', 'adminSocketMode', 'adminSocketGroup', 'metrics', 'drainOnRemove', 'drainTimeout', 'logLevel', 'services',
  ],
  flowTable: ['capacity', 'idleTimeout'],
  flowTimeouts: FLOW_TIMEOUT_KEYS,
  ring: ['blockSize', 'blockCount', 'frameSize', 'retireTimeoutMs'],
  metrics: ['enabled', 'listen'],
  service: ['name', 'vip', 'port', 'protocol', 'flowKey', 'scheduler', 'maglevTableSize', 'onServerDown', 'healthCheck', 'sorryServer', 'servers'],
  sorryServer: ['address', 'mac'],
  server: ['address', 'mac', 'weight', 'healthCheck'],
  healthCheck: ['type', 'port', 'path', 'expectStatus', 'command', 'interval', 'timeout', 'rise', 'fall', 'flapWindow', 'flapThreshold'],
} as const;
type ObjectKind = keyof typeof KEYS;

const WHERE: Record<ObjectKind, string> = {
  top: 'at the top level',
  flowTable: 'inside "flowTable"',
  flowTimeouts: 'inside "flowTimeouts"',
  ring: 'inside "ring"',
  metrics: 'inside "metrics"',
  service: 'in a service',
  sorryServer: 'inside "sorryServer"',
  server: 'in a server entry',
  healthCheck: 'inside "healthCheck"',
};

/** Edit distance counting a swap of two neighbours as one edit ("tpc" -> "tcp"), the usual typo. */
function editDistance(a: string, b: string): number {
  // Three rows of one flat array instead of a table of arrays: a file with a million unknown keys
  // asks for tens of millions of these.
  const w = b.length + 1;
  const rows = new Int32Array(3 * w);
  let prev2 = 0;
  let prev = w;
  let cur = 2 * w;
  for (let j = 0; j < w; j++) rows[prev + j] = j;
  for (let i = 1; i <= a.length; i++) {
    rows[cur] = i;
    for (let j = 1; j < w; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let best = Math.min(rows[prev + j]! + 1, rows[cur + j - 1]! + 1, rows[prev + j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) best = Math.min(best, rows[prev2 + j - 2]! + 1);
      rows[cur + j] = best;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return rows[prev + b.length]!;
}

/** The closest candidate if it is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(1, Math.floor(word.length / 3));
  for (const candidate of candidates) {
    // The distance is at least the difference in length: a 2 MB key from a hostile file must not
    // cost a 2 MB x 15 table per candidate.
    if (Math.abs(word.length - candidate.length) > limit) continue;
    const d = candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= limit ? best : undefined;
}

function unknownKeyMessage(key: string, kind: ObjectKind): string {
  const near = nearest(key, KEYS[kind]);
  if (near) return `unknown key ${describe(key)}: did you mean "${near}"?`;
  const home = (Object.keys(KEYS) as ObjectKind[]).find((k) => k !== kind && (KEYS[k] as readonly string[]).includes(key));
  if (home) return `unknown key ${describe(key)} ${WHERE[kind]}: "${key}" belongs ${WHERE[home]}; move it there`;
  return `unknown key ${describe(key)} ${WHERE[kind]}; remove it (known keys: ${KEYS[kind].join(', ')})`;
}

/** Error map for a container (object or list) that is missing or of the wrong type. */
function containerErrors(expect: string, fix: string): z.ZodErrorMap {
  return (issue, ctx) =>
    issue.code === z.ZodIssueCode.invalid_type
      ? { message: ctx.data === undefined ? `missing; ${fix}` : `${describe(ctx.data)} is not ${expect}; ${fix}` }
      : { message: ctx.defaultError };
}

/** A strict object: every key outside `shape` is an error of its own, at its own path. */
function strictObject<S extends z.ZodRawShape>(kind: ObjectKind, shape: S, expect: string, fix: string) {
  return z.object(shape, { errorMap: containerErrors(expect, fix) }).catchall(
    z.unknown().superRefine((_value, ctx) => {
      addIssue(ctx, () => unknownKeyMessage(String(ctx.path[ctx.path.length - 1]), kind));
    }),
  );
}

// ---------- structure ----------

const timeoutSeconds = (key: keyof FlowTimeouts) =>
  leaf(positive(86_400, `idle seconds (not milliseconds); ${DEFAULTS.flowTimeouts[key]} is the default`)).optional();

const seconds = (fix: string) => leaf(positive(3600, fix)).optional();

const healthCheckSchema = strictObject(
  'healthCheck',
  {
    type: leaf(oneOf(['tcp', 'http', 'command'] as const, '"tcp" connects, "http" GETs "path" and expects "expectStatus", "command" runs "command" and expects exit code 0')).optional(),
    port: leaf(integer(1, 65535, 'the port checks connect to on the server\'s own address; leave it out to use the service\'s port')).optional(),
    path: leaf(httpPath).optional(),
    expectStatus: leaf(statusRange).optional(),
    command: leaf(commandString).optional(),
    interval: seconds('seconds between two checks of a server, e.g. 2 (the default) or 0.5'),
    timeout: seconds('seconds a check may take before it counts as failed, e.g. 1 (the default)'),
    rise: leaf(integer(1, 100, 'consecutive successes before a down server takes new flows again; 2 is the default')).optional(),
    fall: leaf(integer(1, 100, 'consecutive failures before a server stops taking new flows; 3 is the default')).optional(),
    flapWindow: leaf(positive(86_400, 'seconds over which up/down changes are counted for flap damping; 60 is the default')).optional(),
    flapThreshold: leaf(integer(0, 1000, 'up/down changes within flapWindow that mark a server as flapping; 4 is the default, 0 turns damping off')).optional(),
  },
  'an object',
  'write e.g. "healthCheck": { "type": "http", "path": "/", "interval": 2 } or leave it out (no checks: servers are always up)',
);

const sorryServerSchema = strictObject(
  'sorryServer',
  {
    address: leaf(unicastIPv4('10.0.0.99'), 'give the sorry server\'s own IPv4 address, e.g. "address": "10.0.0.99"'),
    mac: leaf(mac).optional(),
  },
  'an object',
  'write e.g. "sorryServer": { "address": "10.0.0.99" } or leave it out (new flows are dropped when no server is up)',
);

const serverSchema = strictObject(
  'server',
  {
    address: leaf(unicastIPv4('10.0.0.11'), 'give the real server\'s own IPv4 address, e.g. "address": "10.0.0.11"'),
    mac: leaf(mac).optional(),
    weight: leaf(integer(0, 65535, 'weight is relative to the other servers; 0 drains the server (no new flows)')).optional(),
    healthCheck: healthCheckSchema.optional(),
  },
  'a server entry',
  'write each server as an object like { "address": "10.0.0.11", "weight": 1 }',
);

const serviceSchema = strictObject(
  'service',
  {
    name: leaf(serviceName, 'give the service a unique name, e.g. "name": "web"'),
    vip: leaf(unicastIPv4('10.0.0.100'), 'give the virtual IP clients connect to, e.g. "vip": "10.0.0.100"'),
    port: leaf(port).optional(),
    protocol: leaf(oneOf(['tcp', 'udp'] as const, 'leave it out for "tcp"')).optional(),
    flowKey: leaf(oneOf(['addresses', '5tuple'] as const, '"5tuple" keeps each connection on one server; "addresses" keeps each client address on one server (persistence)')).optional(),
    scheduler: leaf(oneOf(SCHEDULERS, '"maglev" (consistent hashing, the default), "wrr" (weighted round-robin), "rr" (round-robin), "wlc" (weighted least flows) or "sh" (source hash)')).optional(),
    maglevTableSize: leaf(maglevTableSize).optional(),
    onServerDown: leaf(oneOf(['reschedule', 'keep'] as const, '"reschedule" moves the flows of a failed server to live servers (the default); "keep" leaves them where they are')).optional(),
    healthCheck: healthCheckSchema.optional(),
    sorryServer: sorryServerSchema.optional(),
    servers: z
      .array(serverSchema, { errorMap: containerErrors('a list of servers', 'list the real servers, e.g. "servers": [{ "address": "10.0.0.11" }]') })
      .min(1, { message: 'is empty; list at least one real server, e.g. [{ "address": "10.0.0.11" }] (use "weight": 0 to drain one)' })
      .max(MAX_SERVERS, { message: `lists more than ${MAX_SERVERS} servers, the most one service can have (the fast path numbers them in 16 bits); split them over several VIPs` }),
  },
  'a service',
  'write each service as an object like { "name": "web", "vip": "10.0.0.100", "servers": [...] }',
);

const configSchema = strictObject(
  'top',
  {
    interface: leaf(interfaceName, 'name the NIC that receives VIP traffic, e.g. "interface": "eth1"'),
    egressInterface: leaf(interfaceName).optional(),
    workers: leaf(integer(1, MAX_WORKERS, 'one AF_PACKET I/O thread per worker; start with 1 and add one per core you give to packets')).optional(),
    cpus: z
      .array(leaf(integer(0, 65535, 'give the CPU number (as in /proc/cpuinfo) each worker is pinned to')), {
        errorMap: containerErrors('a list of CPU numbers', 'write e.g. "cpus": [2, 3] (one per worker) or leave it out'),
      })
      .optional(),
    txMode: leaf(oneOf(['auto', 'ring', 'send', 'sendmmsg'] as const, '"auto" picks "sendmmsg" on veth and "ring" elsewhere')).optional(),
    ingressDrop: leaf(oneOf(['tc', 'none'] as const, '"tc" keeps the dispatcher\'s own kernel off VIP traffic; "none" only if you drop it yourself')).optional(),
    gratuitousArp: leaf(boolean).optional(),
    flowTable: strictObject(
      'flowTable',
      {
        capacity: leaf(integer(1024, 1 << 27, 'flow entries per worker shard (rounded up to a power of two); 1048576 is the default')).optional(),
        idleTimeout: leaf(positive(86_400, 'idleTimeout is in seconds (not milliseconds), the hard upper bound of every flowTimeouts value: leave it out to use the largest of them (900 by default)')).optional(),
      },
      'an object',
      'write e.g. "flowTable": { "capacity": 1048576, "idleTimeout": 900 } or leave it out',
    ).optional(),
    flowTimeouts: strictObject(
      'flowTimeouts',
      {
        tcpEstablished: timeoutSeconds('tcpEstablished'),
        tcpSynRecv: timeoutSeconds('tcpSynRecv'),
        tcpFinWait: timeoutSeconds('tcpFinWait'),
        tcpClose: timeoutSeconds('tcpClose'),
        tcpLastAck: timeoutSeconds('tcpLastAck'),
        udp: timeoutSeconds('udp'),
      },
      'an object',
      'write e.g. "flowTimeouts": { "tcpEstablished": 900, "udp": 300 } or leave it out',
    ).optional(),
    ring: strictObject(
      'ring',
      {
        blockSize: leaf(blockSize).optional(),
        blockCount: leaf(integer(1, 65536, 'blocks per RX ring; 32 (the default) x 1 MiB absorbs bursts')).optional(),
        frameSize: leaf(frameSize).optional(),
        retireTimeoutMs: leaf(integer(1, 60_000, 'milliseconds before a partly filled block is handed over; 10 is the default')).optional(),
      },
      'an object',
      'write e.g. "ring": { "blockSize": 1048576, "blockCount": 32 } or leave it out',
    ).optional(),
    neighbourRefresh: leaf(positive(3600, 'seconds between MAC re-resolution of servers without "mac"; 5 is the default')).optional(),
    adminSocket: leaf(socketPath).optional(),
    adminSocketMode: leaf(octalMode).optional(),
    adminSocketGroup: leaf(groupName).optional(),
    metrics: strictObject(
      'metrics',
      {
        enabled: leaf(boolean).optional(),
        listen: leaf(listenAddress).optional(),
      },
      'an object',
      'write e.g. "metrics": { "listen": "127.0.0.1:9477" } or leave it out',
    ).optional(),
    drainOnRemove: leaf(boolean).optional(),
    drainTimeout: leaf(positive(86_400, 'seconds a server removed from the config keeps its flows at most; 300 is the default')).optional(),
    logLevel: leaf(oneOf(LOG_LEVELS, '"info" is the default')).optional(),
    services: z
      .array(serviceSchema, { errorMap: containerErrors('a list of services', 'list the virtual services, e.g. "services": [{ "name": "web", "vip": "10.0.0.100", "port": 80, "servers": [...] }]') })
      .min(1, { message: 'is empty; list at least one service: { "name": "web", "vip": "10.0.0.100", "servers": [{ "address": "10.0.0.11" }] }' })
      .max(MAX_SERVICES, { message: `lists more than ${MAX_SERVICES} services, the most the fast path can hold (it numbers them in 16 bits); run a second dispatcher for the rest` }),
  },
  'a JSON object',
  'the config is one object like { "interface": "eth1", "services": [...] }',
);

type ParsedConfig = z.output<typeof configSchema>;

// ---------- relations between fields ----------

type Raw = Record<string, unknown>;
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Rules between fields, on the raw input; each looks only at values that are valid on their own. */
function crossCheck(raw: unknown): ConfigError[] {
  const errors: ConfigError[] = [];
  if (!isRecord(raw)) return errors;
  const add = (path: string, message: string) => errors.push({ path, message });

  const workers = raw.workers ?? DEFAULTS.workers;
  if (Array.isArray(raw.cpus) && raw.cpus.length > 0 && isInt(workers, 1, MAX_WORKERS) && raw.cpus.length !== workers) {
    add('cpus', `lists ${raw.cpus.length} CPU${raw.cpus.length === 1 ? '' : 's'} for ${workers} worker${workers === 1 ? '' : 's'}; give exactly one CPU per worker, or leave "cpus" out to not pin`);
  }

  if (!Array.isArray(raw.services)) return errors;
  const names = new Map<string, number>();
  const vips = new Set<string>();
  // Per VIP and protocol: the first service on each port (0: every port). Maps, not a scan of all
  // earlier services: a file with many thousands of services must not take quadratic time.
  const endpoints = new Map<string, Map<number, number>>();
  raw.services.forEach((service, i) => {
    if (!isRecord(service)) return;
    const at = `services[${i}]`;
    const label = (index: number) => {
      const other = raw.services as unknown[];
      const name = isRecord(other[index]) ? other[index].name : undefined;
      return typeof name === 'string' ? `services[${index}] ("${name}")` : `services[${index}]`;
    };

    if (typeof service.name === 'string') {
      const first = names.get(service.name);
      if (first !== undefined) add(`${at}.name`, `"${service.name}" is already the name of services[${first}]; give each service a unique name`);
      else names.set(service.name, i);
    }

    if (isIPv4(service.vip) && !vips.has(service.vip)) {
      vips.add(service.vip);
      // The packet filter compares each VIP in turn with 8-bit jumps (control/bpf-program.ts).
      if (vips.size === MAX_VIPS + 1) add(`${at}.vip`, `${service.vip} is distinct VIP number ${vips.size}; the packet filter holds at most ${MAX_VIPS} distinct VIPs: put more services (ports) on fewer VIPs, or run a second dispatcher`);
    }

    const port = service.port ?? DEFAULTS.port;
    const protocol = service.protocol ?? DEFAULTS.protocol;
    if (isIPv4(service.vip) && isInt(port, 0, 65535) && (protocol === 'tcp' || protocol === 'udp')) {
      const ports = endpoints.get(`${service.vip}/${protocol}`) ?? new Map<number, number>();
      endpoints.set(`${service.vip}/${protocol}`, ports);
      // The earliest service this one collides with; one conflict per service is enough to act on.
      let other: { index: number; port: number } | undefined;
      const consider = (otherPort: number, index: number | undefined) => {
        if (index !== undefined && (other === undefined || index < other.index)) other = { index, port: otherPort };
      };
      if (port === 0) {
        const earliest = ports.entries().next().value; // ports are added in service order
        if (earliest) consider(earliest[0], earliest[1]);
      } else {
        consider(port, ports.get(port));
        consider(0, ports.get(0));
      }
      if (other) {
        const where = `${service.vip}:${port === 0 ? '*' : port}/${protocol}`;
        if (other.port === port) {
          add(`${at}.port`, `${where} is already balanced by ${label(other.index)}; a VIP, port and protocol can belong to one service only: merge the server lists or change the port`);
        } else {
          add(`${at}.port`, `${where} overlaps ${label(other.index)} on ${service.vip}:${other.port === 0 ? '*' : other.port}/${protocol}; a service without "port" takes every ${protocol} port of its VIP, so it cannot share the VIP with another ${protocol} service: merge them or use another VIP`);
        }
      }
      if (!ports.has(port)) ports.set(port, i);
    }

    if (!Array.isArray(service.servers)) return;
    const seen = new Map<string, number>();
    service.servers.forEach((server, j) => {
      if (!isRecord(server) || !isIPv4(server.address)) return;
      const first = seen.get(server.address);
      if (first !== undefined) {
        add(`${at}.servers[${j}].address`, `${server.address} is already listed as servers[${first}]; list each real server once and use "weight" to give it a larger share`);
      } else seen.set(server.address, j);
      if (server.address === service.vip) {
        add(`${at}.servers[${j}].address`, `${server.address} is the service's own VIP; list the real servers' own addresses (they carry the VIP on lo)`);
      }
    });
    const size = service.maglevTableSize;
    if (typeof size === 'number' && !(maglevTableSize(size) instanceof Invalid) && size < service.servers.length) {
      add(`${at}.maglevTableSize`, `${size} is smaller than the number of servers (${service.servers.length}); Maglev needs more slots than servers, ideally 100 x: use 65537 (the default) or a larger prime`);
    }

    const sorry = service.sorryServer;
    if (isRecord(sorry) && isIPv4(sorry.address)) {
      if (sorry.address === service.vip) add(`${at}.sorryServer.address`, `${sorry.address} is the service's own VIP; give the sorry server's own address (it carries the VIP on lo like the real servers)`);
      const j = service.servers.findIndex((r) => isRecord(r) && r.address === sorry.address);
      if (j >= 0) add(`${at}.sorryServer.address`, `${sorry.address} is also servers[${j}]; the sorry server only takes flows when no server can, so list it in one place only`);
    }

    // Health checks: the service's own, then each server's merged over it (only what the server changes).
    const servicePort = isInt(port, 0, 65535) ? port : 0;
    const own = isRecord(service.healthCheck) ? service.healthCheck : undefined;
    const serviceProblems = own ? healthCheckProblems(own, servicePort) : [];
    for (const p of serviceProblems) add(`${at}.healthCheck${p.key ? `.${p.key}` : ''}`, p.message);
    service.servers.forEach((server, j) => {
      if (!isRecord(server) || !isRecord(server.healthCheck)) return;
      const seen = new Set(serviceProblems.map((p) => `${p.key}\n${p.message}`));
      for (const p of healthCheckProblems({ ...own, ...server.healthCheck }, servicePort)) {
        if (!seen.has(`${p.key}\n${p.message}`)) add(`${at}.servers[${j}].healthCheck${p.key ? `.${p.key}` : ''}`, p.message);
      }
    });
  });
  return errors;
}

/** Rules between the keys of one (merged) health check; values invalid on their own are left to the schema. */
function healthCheckProblems(hc: Raw, servicePort: number): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const type = hc.type ?? DEFAULTS.healthCheck.type;
  if (type === 'command' && hc.command === undefined) {
    problems.push({ key: 'command', message: 'missing; a "command" check needs "command", a shell command line that exits 0 when the server is healthy (LAS_SERVER holds the address)' });
  }
  if ((type === 'tcp' || type === 'http') && hc.port === undefined && servicePort === 0) {
    problems.push({ key: 'port', message: `missing; the service balances every port, so a "${type}" check needs "port" to know where to connect` });
  }
  const interval = hc.interval ?? DEFAULTS.healthCheck.interval;
  const timeout = hc.timeout ?? DEFAULTS.healthCheck.timeout;
  if (typeof interval === 'number' && typeof timeout === 'number' && interval > 0 && timeout > interval) {
    problems.push({ key: 'timeout', message: `${timeout} s is longer than the interval (${interval} s); a check must end before the next one is due: lower "timeout" or raise "interval"` });
  }
  return problems;
}

// ---------- result ----------

/** "services[0].servers[1].mac" from ["services", 0, "servers", 1, "mac"]. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part) && part.length <= 60) out += out === '' ? part : `.${part}`;
    else out += `[${describe(part)}]`; // quoted, and shortened if a hostile file made it huge
  }
  return out;
}

// Document order: top-level keys as in the schema, list items by index, nested keys by schema order.
const KEY_RANK = new Map<string, number>();
for (const list of Object.values(KEYS)) list.forEach((key, i) => KEY_RANK.has(key) || KEY_RANK.set(key, i));
const ALL_KEYS = [...KEY_RANK.keys()];
// An unknown key sorts next to the key it is probably a typo of.
const rank = (key: string) => KEY_RANK.get(key) ?? KEY_RANK.get(nearest(key, ALL_KEYS) ?? '') ?? 1000;

function pathParts(path: string): (string | number)[] {
  return [...path.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3] ?? '')));
}

function compareParts(pa: readonly (string | number)[], pb: readonly (string | number)[], rankOf: (key: string) => number): number {
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const rx = typeof x === 'string' ? rankOf(x) : -1;
    const ry = typeof y === 'string' ? rankOf(y) : -1;
    return rx !== ry ? rx - ry : String(x).localeCompare(String(y));
  }
  return pa.length - pb.length;
}

/** Document order. Each path is parsed and each key ranked once: a hostile file can hold a million errors. */
function sortErrors(errors: ConfigError[]): ConfigError[] {
  const ranks = new Map<string, number>();
  const rankOf = (key: string) => {
    let r = ranks.get(key);
    if (r === undefined) ranks.set(key, (r = rank(key)));
    return r;
  };
  return errors
    .map((e) => ({ e, parts: pathParts(e.path) }))
    .sort((a, b) => compareParts(a.parts, b.parts, rankOf))
    .map(({ e }) => e);
}

type ParsedHealthCheck = NonNullable<ParsedConfig['services'][number]['healthCheck']>;

/** A check with every default filled in; undefined when neither the service nor the server sets one. */
function resolveHealthCheck(parts: (ParsedHealthCheck | undefined)[], servicePort: number): HealthCheckConfig | undefined {
  const present = parts.filter((p): p is ParsedHealthCheck => p !== undefined);
  if (present.length === 0) return undefined;
  // Later parts override earlier ones key by key; undefined (absent) keys do not override.
  const merged: Partial<Record<keyof ParsedHealthCheck, unknown>> = {};
  for (const part of present) for (const [k, v] of Object.entries(part)) if (v !== undefined) merged[k as keyof ParsedHealthCheck] = v;
  const d = DEFAULTS.healthCheck;
  const m = merged as Partial<HealthCheckConfig>;
  return {
    type: m.type ?? d.type,
    port: m.port ?? servicePort,
    path: m.path ?? d.path,
    expectStatus: m.expectStatus ?? [d.expectStatus[0], d.expectStatus[1]],
    ...(m.command !== undefined ? { command: m.command } : {}),
    interval: m.interval ?? d.interval,
    timeout: m.timeout ?? d.timeout,
    rise: m.rise ?? d.rise,
    fall: m.fall ?? d.fall,
    flapWindow: m.flapWindow ?? d.flapWindow,
    flapThreshold: m.flapThreshold ?? d.flapThreshold,
  };
}

function resolve(d: ParsedConfig): LasConfig {
  const services: ServiceConfig[] = d.services.map((s) => {
    const port = s.port ?? DEFAULTS.port;
    const healthCheck = resolveHealthCheck([s.healthCheck], port);
    return {
      name: s.name,
      vip: s.vip,
      port,
      protocol: s.protocol ?? DEFAULTS.protocol,
      flowKey: s.flowKey ?? DEFAULTS.flowKey,
      scheduler: s.scheduler ?? DEFAULTS.scheduler,
      maglevTableSize: s.maglevTableSize ?? DEFAULTS.maglevTableSize,
      onServerDown: s.onServerDown ?? DEFAULTS.onServerDown,
      ...(healthCheck ? { healthCheck } : {}),
      ...(s.sorryServer ? { sorryServer: { address: s.sorryServer.address, ...(s.sorryServer.mac !== undefined ? { mac: s.sorryServer.mac } : {}) } } : {}),
      servers: s.servers.map((v): ServerConfig => {
        const check = resolveHealthCheck([s.healthCheck, v.healthCheck], port);
        return {
          address: v.address,
          ...(v.mac !== undefined ? { mac: v.mac } : {}),
          weight: v.weight ?? DEFAULTS.weight,
          ...(check ? { healthCheck: check } : {}),
        };
      }),
    };
  });
  const t = DEFAULTS.flowTimeouts;
  const flowTimeouts: FlowTimeouts = {
    tcpEstablished: d.flowTimeouts?.tcpEstablished ?? t.tcpEstablished,
    tcpSynRecv: d.flowTimeouts?.tcpSynRecv ?? t.tcpSynRecv,
    tcpFinWait: d.flowTimeouts?.tcpFinWait ?? t.tcpFinWait,
    tcpClose: d.flowTimeouts?.tcpClose ?? t.tcpClose,
    tcpLastAck: d.flowTimeouts?.tcpLastAck ?? t.tcpLastAck,
    udp: d.flowTimeouts?.udp ?? t.udp,
  };
  return {
    interface: d.interface,
    egressInterface: d.egressInterface ?? d.interface,
    workers: d.workers ?? DEFAULTS.workers,
    cpus: d.cpus ?? [],
    txMode: d.txMode ?? DEFAULTS.txMode,
    ingressDrop: d.ingressDrop ?? DEFAULTS.ingressDrop,
    gratuitousArp: d.gratuitousArp ?? DEFAULTS.gratuitousArp,
    flowTable: {
      capacity: d.flowTable?.capacity ?? DEFAULTS.flowTable.capacity,
      // The native idle sweep is the hard upper bound; by default it never cuts a per-state timeout short.
      idleTimeout: d.flowTable?.idleTimeout ?? Math.max(...Object.values(flowTimeouts)),
    },
    flowTimeouts,
    ring: {
      blockSize: d.ring?.blockSize ?? DEFAULTS.ring.blockSize,
      blockCount: d.ring?.blockCount ?? DEFAULTS.ring.blockCount,
      frameSize: d.ring?.frameSize ?? DEFAULTS.ring.frameSize,
      retireTimeoutMs: d.ring?.retireTimeoutMs ?? DEFAULTS.ring.retireTimeoutMs,
    },
    neighbourRefresh: d.neighbourRefresh ?? DEFAULTS.neighbourRefresh,
    adminSocket: d.adminSocket ?? DEFAULTS.adminSocket,
    // A group is given access: read-write for it unless the mode is set explicitly.
    adminSocketMode: d.adminSocketMode ?? (d.adminSocketGroup !== undefined ? '0660' : DEFAULTS.adminSocketMode),
    ...(d.adminSocketGroup !== undefined ? { adminSocketGroup: d.adminSocketGroup } : {}),
    metrics: { enabled: d.metrics?.enabled ?? true, listen: d.metrics?.listen ?? DEFAULTS.metricsListen },
    drainOnRemove: d.drainOnRemove ?? DEFAULTS.drainOnRemove,
    drainTimeout: d.drainTimeout ?? DEFAULTS.drainTimeout,
    logLevel: d.logLevel ?? DEFAULTS.logLevel,
    services,
  };
}

/** Validates parsed JSON and fills every default; on failure returns all errors, in document order. */
export function parseConfig(input: unknown): ConfigResult {
  Object.assign(issues, { left: ISSUE_BUDGET, suppressed: 0 });
  const parsed = configSchema.safeParse(input);
  const suppressed = issues.suppressed;
  const errors: ConfigError[] = parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  errors.push(...crossCheck(input), ...unsafeStrings(input));
  if (errors.length === 0 && parsed.success && suppressed === 0) return { ok: true, config: resolve(parsed.data) };

  // Messages quote the file's keys and values: never print its control or bidi characters raw.
  const unique = new Map(errors.map((e) => [`${e.path}\n${e.message}`, { path: printable(e.path), message: printable(e.message) }]));
  const sorted = sortErrors([...unique.values()]);
  const more = Math.max(0, sorted.length - MAX_ERRORS_LISTED) + suppressed;
  return { ok: false, errors: sorted.slice(0, MAX_ERRORS_LISTED), ...(more > 0 ? { more } : {}) };
}

/**
 * Every string value holding a control, bidi or invisible character. Refused rather than escaped:
 * no field needs one, and a name that shows reversed in logs and counters misleads whoever reads them.
 * Walks with its own stack: the input may come from anywhere, not only from the depth-checked file.
 */
function unsafeStrings(input: unknown): ConfigError[] {
  type Node = { value: unknown; key?: string | number; parent?: Node };
  const pathOf = (node: Node) => {
    const parts: (string | number)[] = [];
    for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) parts.unshift(n.key);
    return formatPath(parts);
  };
  const errors: ConfigError[] = [];
  const stack: Node[] = [{ value: input }];
  while (stack.length > 0 && errors.length < 100) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === 'string') {
      const found = findUnsafe(value);
      if (found) {
        errors.push({ path: pathOf(node), message: `${describe(value)} holds ${describeUnsafe(found.char)} at character ${found.index + 1}; retype the value without it (no config value needs control or invisible characters)` });
      }
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
    } else if (isRecord(value)) {
      for (const [key, v] of Object.entries(value).reverse()) stack.push({ value: v, key, parent: node });
    }
  }
  return errors;
}
