// Checks of single values. Each words its own error ("what is wrong; how to fix it"), because an
// operator needs that, not "Expected number, received string", and each carries the JSON Schema of
// what it accepts, so the editors' schema (json-schema.ts) is derived from the same definitions.
import { describe } from './quote.js';
import { nearest } from './suggestions.js';
import { foreignValueHint } from './foreign-names.js';
import { canonicalIPv6, ipv6UnicastProblem } from './addresses.js';
import { MAX_MAGLEV_TABLE_SIZE, MAX_RX_BLOCK_SIZE, MAX_TX_FRAME_SIZE, MIN_RX_BLOCK_SIZE } from './limits.js';

export { describe };

export class Invalid {
  constructor(readonly message: string) {}
}

/** A JSON Schema fragment (draft-07). */
export type JsonFragment = Record<string, unknown>;

/** A value check and the JSON Schema of the values it accepts. */
export type Check<T> = ((value: unknown) => T | Invalid) & { json: JsonFragment };

function check<T>(json: JsonFragment, fn: (value: unknown) => T | Invalid): Check<T> {
  return Object.assign(fn, { json });
}

// A quoted number is the most common JSON slip; say so instead of a bare "not an integer".
export function quotedNumberHint(value: unknown): string {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? ' (write numbers without quotes)' : '';
}

export function integer(min: number, max: number, fix: string): Check<number> {
  return check({ type: 'integer', minimum: min, maximum: max, description: fix }, (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? value
      : new Invalid(`${describe(value)} is not an integer from ${min} to ${max}${quotedNumberHint(value)}; ${fix}`));
}

export function positive(max: number, fix: string): Check<number> {
  return check({ type: 'number', exclusiveMinimum: 0, maximum: max, description: fix }, (value) =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= max
      ? value
      : new Invalid(`${describe(value)} is not a number above 0 and at most ${max}${quotedNumberHint(value)}; ${fix}`));
}

/** One of `values`; `field` names the key so that names from ipvsadm or keepalived get their LAS value. */
export function oneOf<T extends string>(values: readonly T[], fix: string, field?: string): Check<T> {
  return check({ type: 'string', enum: [...values], description: fix }, (value) => {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    const list = values.map((v) => `"${v}"`).join(', ');
    const foreign = typeof value === 'string' && field !== undefined ? foreignValueHint(field, value) : undefined;
    if (foreign) return new Invalid(`${describe(value)} is not one of ${list}; ${foreign}`);
    const near = typeof value === 'string' ? nearest(value, values) : undefined;
    return new Invalid(`${describe(value)} is not one of ${list}; ${near ? `did you mean "${near}"? ` : ''}${fix}`);
  });
}

export const boolean: Check<boolean> = check({ type: 'boolean' }, (value) =>
  typeof value === 'boolean' ? value : new Invalid(`${describe(value)} is not true or false; write true or false without quotes`));

/** Any string: what editors put in "$schema". */
export const anyString: Check<string> = check({ type: 'string' }, (value) =>
  typeof value === 'string' ? value : new Invalid(`${describe(value)} is not a string; "$schema" is the path or URL of las.schema.json, for editors`));

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
// A first octet other than 0, 127 and 224-255: a unicast host address.
const UNICAST = new RegExp(`^(22[0-3]|2[01]\\d|1[3-9]\\d|12[0-689]|1[01]\\d|[1-9]\\d|[1-9])(\\.${OCTET}){3}$`);

export function isIPv4(value: unknown): value is string {
  return typeof value === 'string' && IPV4.test(value);
}

// The shape of IPv6 text for editors (JSON Schema has no portable "format" here); las check is exact.
const H = '[0-9A-Fa-f]{1,4}';
const IPV6_SHAPE = `^(${H}(:${H}){7}|(${H}:){1,7}:|(${H}:){1,6}:${H}|(${H}:){1,5}(:${H}){1,2}|(${H}:){1,4}(:${H}){1,3}|(${H}:){1,3}(:${H}){1,4}|(${H}:){1,2}(:${H}){1,5}|${H}:(:${H}){1,6}|:(:${H}){1,7})$`;

/** A unicast IPv4 or IPv6 host address: what a VIP or a real server can be (v6 in its canonical form). */
export function unicastAddress(example: string, example6: string): Check<string> {
  const json = {
    anyOf: [{ type: 'string', pattern: UNICAST.source }, { type: 'string', pattern: IPV6_SHAPE }],
    description: `dotted IPv4 address like "${example}" or IPv6 address like "${example6}"`,
  };
  return check(json, (value) => {
    if (typeof value === 'string' && value.includes(':')) {
      const v6 = canonicalIPv6(value);
      if (v6 === undefined) {
        const hint = value.includes('%') ? ' (leave out the zone "%...")' : value.includes('/') ? ' (leave out the prefix length)' : value.startsWith('[') ? ' (leave out the brackets)' : '';
        return new Invalid(`${describe(value)} is not an IPv6 address${hint}; write it like "${example6}"`);
      }
      const problem = ipv6UnicastProblem(v6);
      if (problem) return new Invalid(`${describe(value)} is not a unicast host address (${problem}); use an address of the segment like "${example6}"`);
      return v6;
    }
    if (!isIPv4(value)) {
      let hint = '';
      if (typeof value === 'string' && value.includes('/')) hint = ' (leave out the prefix length)';
      else if (typeof value === 'string' && /(^|\.)0\d/.test(value)) hint = ' (no leading zeros)';
      return new Invalid(`${describe(value)} is not a dotted IPv4 address${hint}; write four numbers 0-255 like "${example}" (or an IPv6 address like "${example6}")`);
    }
    if (!UNICAST.test(value)) {
      return new Invalid(`${describe(value)} is not a unicast host address (0.x, 127.x, multicast and 240.x+ cannot be balanced); use an address of the segment like "${example}"`);
    }
    return value;
  });
}

/** A unicast IPv4 host address, where only IPv4 is supported (the BGP session's addresses). */
export function unicastIPv4(example: string): Check<string> {
  return check({ type: 'string', pattern: UNICAST.source, description: `dotted IPv4 address, e.g. "${example}"` }, (value) => {
    if (typeof value === 'string' && value.includes(':')) {
      return new Invalid(`${describe(value)} is an IPv6 address; this field takes IPv4 only, like "${example}"`);
    }
    if (!isIPv4(value) || !UNICAST.test(value)) {
      return new Invalid(`${describe(value)} is not a unicast dotted IPv4 address; write four numbers 0-255 like "${example}"`);
    }
    return value;
  });
}

// 0 means "every port" internally, but written out it looks like a mistake: omitting says it plainly.
const portNumber = integer(1, 65535, 'leave "port" out to balance every port of the VIP');
export const port: Check<number> = check(portNumber.json, (value) =>
  value === 0 ? new Invalid('0 is not a port; leave "port" out to balance every port of the VIP') : portNumber(value));

// Unicast (bit 0 of the first byte clear: a group address would reach every server), not all zeros.
const MAC = /^(?!(00:){5}00$)[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$/;
const MAC_SHAPE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export const mac: Check<string> = check({ type: 'string', pattern: MAC.source, description: 'unicast MAC like "02:00:00:00:00:12"; leave it out to resolve it from the neighbour table' }, (value) => {
  const fix = 'write six hex byte pairs like "02:00:00:00:00:12" or leave "mac" out to resolve it from the neighbour table';
  if (typeof value !== 'string' || !MAC_SHAPE.test(value)) return new Invalid(`${describe(value)} is not a MAC address; ${fix}`);
  if (/^(00:){5}00$/.test(value)) return new Invalid(`"00:00:00:00:00:00" is not a usable MAC; ${fix}`);
  if (!MAC.test(value)) return new Invalid(`${describe(value)} is a multicast/broadcast MAC; a real server has a unicast MAC: ${fix}`);
  return value.toLowerCase();
});

/** Kernel rule (dev_valid_name): 1..15 bytes, not "." or "..", no "/", ":" or whitespace. */
const INTERFACE = /^(?!\.\.?$)[^/:\s]{1,15}$/;
export const interfaceName: Check<string> = check({ type: 'string', pattern: INTERFACE.source, description: 'kernel interface name as "ip link" shows it, e.g. "eth1"' }, (value) =>
  typeof value === 'string' && INTERFACE.test(value) && Buffer.byteLength(value) <= 15
    ? value
    : new Invalid(`${describe(value)} is not an interface name; use the kernel name shown by "ip link" (1 to 15 characters, no "/", ":" or spaces), e.g. "eth1"`));

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const serviceName: Check<string> = check({ type: 'string', pattern: SERVICE_NAME.source, description: 'unique service name; it labels logs and counters' }, (value) =>
  typeof value === 'string' && SERVICE_NAME.test(value)
    ? value
    : new Invalid(`${describe(value)} is not a service name; use 1 to 64 letters, digits, ".", "_" or "-" starting with a letter or digit (it labels logs and counters)`));

// sun_path is 108 bytes including the terminating NUL.
const SOCKET_PATH = /^\/[^\0]{0,106}$/;
export const socketPath: Check<string> = check({ type: 'string', pattern: SOCKET_PATH.source, description: 'absolute path of the admin socket' }, (value) =>
  typeof value === 'string' && SOCKET_PATH.test(value) && Buffer.byteLength(value) <= 107
    ? value
    : new Invalid(`${describe(value)} is not an absolute socket path of at most 107 bytes; use e.g. "/run/las/admin.sock" (the default)`));

// A directory for the flow files; false keeps the flow tables in process memory only.
const DIRECTORY_PATH = /^\/[^\0]{0,200}$/;
export const persistDirectory: Check<string | false> = check({
  oneOf: [{ type: 'string', pattern: DIRECTORY_PATH.source }, { const: false }],
  description: 'directory (tmpfs) where each worker\'s flow table lives, so a restart keeps every flow; false: in process memory only',
}, (value) =>
  value === false || (typeof value === 'string' && DIRECTORY_PATH.test(value))
    ? value as string | false
    : new Invalid(`${describe(value)} is neither an absolute directory path (at most 201 bytes) nor false; use e.g. "/run/las" (the admin socket's directory is the default), or false to forget flows on restart`));

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

const MAGLEV_FIX = 'Maglev needs a prime table size of at least 7, ideally over 100 x the number of servers: use 65537 (the default) or a larger prime such as 655373';
export const maglevTableSize: Check<number> = check({ type: 'integer', minimum: 7, maximum: MAX_MAGLEV_TABLE_SIZE, description: MAGLEV_FIX }, (value) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 7 || value > MAX_MAGLEV_TABLE_SIZE) {
    return new Invalid(`${describe(value)} is not an integer from 7 to ${MAX_MAGLEV_TABLE_SIZE}${quotedNumberHint(value)}; ${MAGLEV_FIX}`);
  }
  if (!isPrime(value)) return new Invalid(`${value} is not prime; ${MAGLEV_FIX}`);
  return value;
});

const BLOCK_SIZES: number[] = [];
for (let size = MIN_RX_BLOCK_SIZE; size <= MAX_RX_BLOCK_SIZE; size *= 2) BLOCK_SIZES.push(size);

export const blockSize: Check<number> = check({ type: 'integer', enum: BLOCK_SIZES, description: 'RX block size in bytes, a power of two' }, (value) => {
  if (typeof value === 'number' && BLOCK_SIZES.includes(value)) return value;
  const small = typeof value === 'number' && value > 0 && value < MIN_RX_BLOCK_SIZE ? ' (a block must hold a 64 KiB GRO/TSO super-frame)' : '';
  return new Invalid(`${describe(value)} is not a power of two from ${MIN_RX_BLOCK_SIZE} to ${MAX_RX_BLOCK_SIZE}${small}${quotedNumberHint(value)}; use 1048576 (the default) or e.g. 262144, 4194304`);
});

export const frameSize: Check<number | 'auto'> = check(
  { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 128, maximum: MAX_TX_FRAME_SIZE, multipleOf: 16 }], description: 'the TX ring slot; "auto" sizes it from the egress MTU' },
  (value) => {
    if (value === 'auto') return value;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 128 && value <= MAX_TX_FRAME_SIZE && value % 16 === 0) return value;
    return new Invalid(`${describe(value)} is not "auto" or a multiple of 16 from 128 to ${MAX_TX_FRAME_SIZE}${quotedNumberHint(value)}; it is the TX ring's slot and must hold a full-MTU frame with its headers: leave it out ("auto" sizes it from the egress MTU)`);
  },
);

const HTTP_PATH = /^\/[^\s\0]{0,1023}$/;
export const httpPath: Check<string> = check({ type: 'string', pattern: HTTP_PATH.source, description: 'the path the check GETs, e.g. "/health"' }, (value) =>
  typeof value === 'string' && HTTP_PATH.test(value)
    ? value
    : new Invalid(`${describe(value)} is not an HTTP path; write the path the check GETs, starting with "/", without spaces, e.g. "/health"`));

const STATUS = { type: 'integer', minimum: 100, maximum: 599 };
export const statusRange: Check<[number, number]> = check({ type: 'array', items: STATUS, minItems: 2, maxItems: 2, description: 'accepted HTTP status codes, [lowest, highest]' }, (value) => {
  const fix = 'write the accepted HTTP status codes as [lowest, highest], e.g. [200, 399] (the default)';
  if (!Array.isArray(value) || value.length !== 2) return new Invalid(`${describe(value)} is not a status range; ${fix}`);
  const [lo, hi] = value as unknown[];
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599;
  if (!ok(lo) || !ok(hi)) return new Invalid(`[${describe(lo)}, ${describe(hi)}] holds something that is not an HTTP status code (100-599); ${fix}`);
  if (lo > hi) return new Invalid(`[${lo}, ${hi}] is reversed; ${fix}`);
  return [lo, hi];
});

// Not blank, no NUL, at most 4096 characters.
const COMMAND = /^(?=[\s\S]*\S)[^\0]{1,4096}$/;
export const commandString: Check<string> = check({ type: 'string', pattern: COMMAND.source, description: 'shell command line that exits 0 when the server is healthy' }, (value) =>
  typeof value === 'string' && COMMAND.test(value)
    ? value
    : new Invalid(`${describe(value)} is not a command; write a shell command line that exits 0 when the server is healthy, e.g. "/usr/local/bin/check-db $LAS_SERVER"`));

/** "host:port" with a dotted IPv4 host (0.0.0.0 for every address). */
const LISTEN = new RegExp(`^${IPV4.source.slice(1, -1)}:([1-9]\\d{0,3}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5])$`);
export const listenAddress: Check<string> = check({ type: 'string', pattern: LISTEN.source, description: '"address:port" of the metrics endpoint' }, (value) =>
  typeof value === 'string' && LISTEN.test(value)
    ? value
    : new Invalid(`${describe(value)} is not a listen address; write "address:port" like "127.0.0.1:9477" (the default); any other address exposes the metrics to that network`));

/** A file mode written in octal, like chmod: "0600", "660". */
const OCTAL_MODE = /^0?[0-7]{3}$/;
export const octalMode: Check<string> = check({ type: 'string', pattern: OCTAL_MODE.source, description: 'octal file mode of the admin socket, e.g. "0600"' }, (value) =>
  typeof value === 'string' && OCTAL_MODE.test(value)
    ? value.padStart(4, '0')
    : new Invalid(`${describe(value)} is not a file mode; write it in octal as a string, like "0600" (root only, the default) or "0660" (root and the socket's group)`));

/** A group that may use the admin socket: a name as in /etc/group, or a numeric gid. */
const GROUP = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
export const groupName: Check<string | number> = check(
  { anyOf: [{ type: 'integer', minimum: 0, maximum: 4294967294 }, { type: 'string', pattern: GROUP.source }], description: 'group (name or gid) whose members may use the admin socket' },
  (value) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 4294967295) return value;
    if (typeof value === 'string' && GROUP.test(value)) return value;
    return new Invalid(`${describe(value)} is not a group; write a group name like "las-admin" or a numeric gid: its members may use the admin socket (the mode is then "0660" unless adminSocketMode says otherwise)`);
  },
);

/** The resolved adminSocketMode as a number. */
export function parseMode(mode: string): number {
  return parseInt(mode, 8);
}
