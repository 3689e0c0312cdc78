// The structure of the config as zod sees it: objects, lists, which keys are required, unknown keys.
// Each leaf is a check from leaf-checks.ts, which words its own error; the JSON Schema of each leaf
// is kept beside it (leafJson) so that json-schema.ts derives the editors' schema from this one.
import { z } from 'zod';
import type { FlowTimeouts } from './types.js';
import { DEFAULTS } from './defaults.js';
import { describe } from './quote.js';
import { unknownKeyMessage, type ObjectKind } from './suggestions.js';
import {
  anyString, blockSize, boolean, commandString, frameSize, groupName, httpPath, integer, Invalid, interfaceName, listenAddress,
  mac, maglevTableSize, octalMode, oneOf, persistDirectory, port, positive, serviceName, socketPath, statusRange, unicastAddress,
  type Check, type JsonFragment,
} from './leaf-checks.js';
import {
  MAX_CPU, MAX_FLOW_CAPACITY, MAX_RETIRE_TIMEOUT_MS, MAX_RX_BLOCK_COUNT, MAX_SERVERS, MAX_SERVICES, MAX_WEIGHT, MAX_WORKERS, MIN_FLOW_CAPACITY,
} from './limits.js';
import { SCHEDULER_CHOICES } from '../native/contract.js';
import { secondChanceChecks } from './ha-second-chance.js';
import { HA_MODES, vrrpSchema } from './ha-vrrp.js';
import { bgpShape } from './ha-bgp.js';
import { FLOW_KEYS, HEALTH_CHECK_TYPES, INGRESS_DROP_MODES, LOG_LEVELS, ON_SERVER_DOWN, PROTOCOLS, SCHEDULERS, TX_MODES } from './values.js';

// Issues zod may still collect in one parse. A hostile file can hold millions of unknown keys or bad
// values; past this budget they are only counted (cheap), never worded or kept.
const ISSUE_BUDGET = 1000;
const issues = { left: ISSUE_BUDGET, suppressed: 0 };

/** Starts a parse's issue budget; returns how many issues were dropped since. */
export function resetIssueBudget(): () => number {
  Object.assign(issues, { left: ISSUE_BUDGET, suppressed: 0 });
  return () => issues.suppressed;
}

function addIssue(ctx: z.RefinementCtx, message: () => string): void {
  if (issues.left > 0) {
    issues.left--;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: message() });
  } else issues.suppressed++; // the parse fails on it: its result is never used
}

/** The JSON Schema of each leaf and of each "unknown key" catch-all, by zod definition. */
export const leafJson = new WeakMap<z.ZodTypeDef, JsonFragment | false>();

/** A zod leaf from a check; `missing` makes the field required and says what to write. */
export function leaf<T>(check: Check<T>, missing?: string) {
  const schema = z.unknown().transform((value, ctx): T => {
    const result = value === undefined && missing !== undefined ? new Invalid(`missing; ${missing}`) : check(value);
    if (result instanceof Invalid) {
      addIssue(ctx, () => result.message);
      return z.NEVER;
    }
    return result;
  });
  leafJson.set(schema._def, check.json);
  return schema;
}

/** Error map for a container (object or list) that is missing or of the wrong type. */
function containerErrors(expect: string, fix: string): z.ZodErrorMap {
  return (issue, ctx) =>
    issue.code === z.ZodIssueCode.invalid_type
      ? { message: ctx.data === undefined ? `missing; ${fix}` : `${describe(ctx.data)} is not ${expect}; ${fix}` }
      : { message: ctx.defaultError };
}

/** A strict object: every key outside `shape` is an error of its own, at its own path. */
export function strictObject<S extends z.ZodRawShape>(kind: ObjectKind, shape: S, expect: string, fix: string) {
  const unknownKey = z.unknown().superRefine((_value, ctx) => {
    addIssue(ctx, () => unknownKeyMessage(String(ctx.path[ctx.path.length - 1]), kind));
  });
  leafJson.set(unknownKey._def, false); // additionalProperties: false
  return z.object(shape, { errorMap: containerErrors(expect, fix) }).catchall(unknownKey);
}

/** A non-empty list of `item`; missing or not a list: `fix` says what to write. */
export function listOf<T extends z.ZodTypeAny>(item: T, expect: string, fix: string) {
  return z.array(item, { errorMap: containerErrors(expect, fix) }).min(1, { message: `is empty; ${fix}` });
}

const timeoutSeconds = (key: keyof FlowTimeouts) =>
  leaf(positive(86_400, `idle seconds (not milliseconds); ${DEFAULTS.flowTimeouts[key]} is the default`)).optional();

const seconds = (fix: string) => leaf(positive(3600, fix)).optional();

const healthCheckSchema = strictObject(
  'healthCheck',
  {
    type: leaf(oneOf(HEALTH_CHECK_TYPES, '"tcp" connects, "http" GETs "path" and expects "expectStatus", "command" runs "command" and expects exit code 0', 'type')).optional(),
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
    address: leaf(unicastAddress('10.0.0.99', '2001:db8::99'), 'give the sorry server\'s own address (of the service\'s family), e.g. "address": "10.0.0.99"'),
    mac: leaf(mac).optional(),
  },
  'an object',
  'write e.g. "sorryServer": { "address": "10.0.0.99" } or leave it out (new flows are dropped when no server is up)',
);

const serverSchema = strictObject(
  'server',
  {
    address: leaf(unicastAddress('10.0.0.11', '2001:db8::11'), 'give the real server\'s own address (of the service\'s family), e.g. "address": "10.0.0.11"'),
    mac: leaf(mac).optional(),
    weight: leaf(integer(0, MAX_WEIGHT, 'weight is relative to the other servers; 0 drains the server (no new flows)')).optional(),
    healthCheck: healthCheckSchema.optional(),
  },
  'a server entry',
  'write each server as an object like { "address": "10.0.0.11", "weight": 1 }',
);

const serviceSchema = strictObject(
  'service',
  {
    name: leaf(serviceName, 'give the service a unique name, e.g. "name": "web"'),
    vip: leaf(unicastAddress('10.0.0.100', '2001:db8::100'), 'give the virtual IP clients connect to, e.g. "vip": "10.0.0.100" or "2001:db8::100"'),
    port: leaf(port).optional(),
    protocol: leaf(oneOf(PROTOCOLS, 'leave it out for "tcp"', 'protocol')).optional(),
    flowKey: leaf(oneOf(FLOW_KEYS, '"5tuple" keeps each connection on one server; "addresses" keeps each client address on one server (persistence)')).optional(),
    scheduler: leaf(oneOf(SCHEDULERS, SCHEDULER_CHOICES, 'scheduler')).optional(),
    maglevTableSize: leaf(maglevTableSize).optional(),
    onServerDown: leaf(oneOf(ON_SERVER_DOWN, '"reschedule" moves the flows of a failed server to live servers (the default); "keep" leaves them where they are')).optional(),
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

export const configSchema = strictObject(
  'top',
  {
    // What editors read to find las.schema.json; LAS itself ignores it.
    $schema: leaf(anyString).optional(),
    interface: leaf(interfaceName, 'name the NIC that receives VIP traffic, e.g. "interface": "eth1"'),
    egressInterface: leaf(interfaceName).optional(),
    workers: leaf(integer(1, MAX_WORKERS, 'one AF_PACKET I/O thread per worker; start with 1 and add one per core you give to packets')).optional(),
    cpus: z
      .array(leaf(integer(0, MAX_CPU, 'give the CPU number (as in /proc/cpuinfo) each worker is pinned to')), {
        errorMap: containerErrors('a list of CPU numbers', 'write e.g. "cpus": [2, 3] (one per worker) or leave it out'),
      })
      .optional(),
    txMode: leaf(oneOf(TX_MODES, '"auto" picks "sendmmsg" on veth and "ring" elsewhere')).optional(),
    ingressDrop: leaf(oneOf(INGRESS_DROP_MODES, '"tc" keeps the dispatcher\'s own kernel off VIP traffic; "none" only if you drop it yourself')).optional(),
    gratuitousArp: leaf(boolean).optional(),
    flowTable: strictObject(
      'flowTable',
      {
        capacity: leaf(integer(MIN_FLOW_CAPACITY, MAX_FLOW_CAPACITY, 'flow entries per worker shard (rounded up to a power of two); 1048576 is the default')).optional(),
        idleTimeout: leaf(positive(86_400, 'idleTimeout is in seconds (not milliseconds), the hard upper bound of every flowTimeouts value: leave it out to use the largest of them (900 by default)')).optional(),
        persistDirectory: leaf(persistDirectory).optional(),
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
        blockCount: leaf(integer(1, MAX_RX_BLOCK_COUNT, 'blocks per RX ring; 32 (the default) x 1 MiB absorbs bursts')).optional(),
        frameSize: leaf(frameSize).optional(),
        retireTimeoutMs: leaf(integer(1, MAX_RETIRE_TIMEOUT_MS, 'milliseconds before a partly filled block is handed over; 10 is the default')).optional(),
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
    ha: strictObject(
      'ha',
      {
        mode: leaf(oneOf(HA_MODES, '"none" (the default) is one dispatcher; "vrrp" an active/standby pair whose role keepalived sets with "las role"; "bgp" active/active behind a router\'s ECMP, the VIPs announced by BGP', 'mode')).optional(),
        vrrp: vrrpSchema(strictObject, leaf).optional(),
        bgp: bgpShape(leaf, strictObject, listOf).optional(),
        secondChance: strictObject('haSecondChance', { window: leaf(secondChanceChecks.window).optional() },
          'an object', 'write e.g. "secondChance": { "window": 60 } or leave it out').optional(),
      },
      'an object',
      'write e.g. "ha": { "mode": "vrrp" } or leave it out (one dispatcher)',
    ).optional(),
    services: z
      .array(serviceSchema, { errorMap: containerErrors('a list of services', 'list the virtual services, e.g. "services": [{ "name": "web", "vip": "10.0.0.100", "port": 80, "servers": [...] }]') })
      .min(1, { message: 'is empty; list at least one service: { "name": "web", "vip": "10.0.0.100", "servers": [{ "address": "10.0.0.11" }] }' })
      .max(MAX_SERVICES, { message: `lists more than ${MAX_SERVICES} services, the most the fast path can hold (it numbers them in 16 bits); run a second dispatcher for the rest` }),
  },
  'a JSON object',
  'the config is one object like { "interface": "eth1", "services": [...] }',
);

export type ParsedConfig = z.output<typeof configSchema>;
