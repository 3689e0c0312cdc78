// Rules that relate fields to each other (duplicates, conflicts, sizes), run on the raw input so
// that they are reported even when some other field is broken: every error at once. Each looks only
// at values that are valid on their own; those that are not are the shapes' to report.
import type { ConfigError } from './errors.js';
import { DEFAULTS } from './defaults.js';
import { formatPath } from './errors.js';
import { Invalid, isIPv4, maglevTableSize } from './leaf-checks.js';
import { canonicalIPv6, hostPort } from './addresses.js';
import { BPF_MAX_INSNS, fanoutProgramLength, MAX_RX_BLOCK_COUNT, MAX_RX_RING_FRAMES, MAX_VIPS, MAX_WORKERS, RX_NOMINAL_FRAME, type FanoutService } from './limits.js';
import { describeUnsafe, findUnsafe, printable } from './printable.js';
import { describe } from './quote.js';
import { bgpV6VipErrors } from './ha-bgp.js';

type Raw = Record<string, unknown>;
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
/** An address valid on its own, in the one spelling that compares (v6 canonical); undefined otherwise. */
const addressOf = (v: unknown): string | undefined => (isIPv4(v) ? v : canonicalIPv6(v));
const familyOf = (address: string) => (address.includes(':') ? 'IPv6' : 'IPv4');

/** Rules between fields, on the raw input; each looks only at values that are valid on their own. */
export function crossCheck(raw: unknown): ConfigError[] {
  const errors: ConfigError[] = [];
  if (!isRecord(raw)) return errors;
  const add = (path: string, message: string) => errors.push({ path, message });

  const workers = raw.workers ?? DEFAULTS.workers;
  if (Array.isArray(raw.cpus) && raw.cpus.length > 0 && isInt(workers, 1, MAX_WORKERS) && raw.cpus.length !== workers) {
    add('cpus', `lists ${raw.cpus.length} CPU${raw.cpus.length === 1 ? '' : 's'} for ${workers} worker${workers === 1 ? '' : 's'}; give exactly one CPU per worker, or leave "cpus" out to not pin`);
  }

  const ring = isRecord(raw.ring) ? raw.ring : {};
  const blockSize = ring.blockSize ?? DEFAULTS.ring.blockSize;
  const blockCount = ring.blockCount ?? DEFAULTS.ring.blockCount;
  if (isInt(blockSize, RX_NOMINAL_FRAME, 2 ** 31) && isInt(blockCount, 1, MAX_RX_BLOCK_COUNT) && (blockSize / RX_NOMINAL_FRAME) * blockCount > MAX_RX_RING_FRAMES) {
    add('ring.blockCount', `${blockCount} blocks of ${blockSize} bytes (${(blockSize * blockCount) / 2 ** 40} TiB per worker) are more than the kernel can number in an RX ring (${MAX_RX_RING_FRAMES} frames of ${RX_NOMINAL_FRAME} bytes, 8 TiB); use fewer or smaller blocks: 32 x 1048576 (the default) is 32 MiB`);
  }

  if (isRecord(raw.ha) && raw.ha.mode === 'bgp' && raw.ha.bgp === undefined) {
    add('ha.bgp', 'missing; "mode": "bgp" announces the VIPs by BGP and needs e.g. "bgp": { "localAddress": "10.81.0.2", "localAsn": 65001, "peers": [{ "address": "10.81.0.1", "asn": 65000 }] }');
  }

  bgpV6VipErrors(raw, add);

  if (!Array.isArray(raw.services)) return errors;
  if (isInt(workers, 2, MAX_WORKERS)) fanoutSize(raw.services, workers, add);
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

    const vip = addressOf(service.vip);
    if (isIPv4(service.vip) && !vips.has(service.vip)) {
      vips.add(service.vip);
      // The packet filter compares each VIP in turn with 8-bit jumps (control/bpf-program.ts).
      if (vips.size === MAX_VIPS + 1) add(`${at}.vip`, `${service.vip} is distinct VIP number ${vips.size}; the packet filter holds at most ${MAX_VIPS} distinct VIPs: put more services (ports) on fewer VIPs, or run a second dispatcher`);
    }

    const port = service.port ?? DEFAULTS.port;
    const protocol = service.protocol ?? DEFAULTS.protocol;
    if (vip !== undefined && isInt(port, 0, 65535) && (protocol === 'tcp' || protocol === 'udp')) {
      const ports = endpoints.get(`${vip}/${protocol}`) ?? new Map<number, number>();
      endpoints.set(`${vip}/${protocol}`, ports);
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
        const where = `${hostPort(vip, port === 0 ? '*' : port)}/${protocol}`;
        if (other.port === port) {
          add(`${at}.port`, `${where} is already balanced by ${label(other.index)}; a VIP, port and protocol can belong to one service only: merge the server lists or change the port`);
        } else {
          add(`${at}.port`, `${where} overlaps ${label(other.index)} on ${hostPort(vip, other.port === 0 ? '*' : other.port)}/${protocol}; a service without "port" takes every ${protocol} port of its VIP, so it cannot share the VIP with another ${protocol} service: merge them or use another VIP`);
        }
      }
      if (!ports.has(port)) ports.set(port, i);
    }

    if (!Array.isArray(service.servers)) return;
    const seen = new Map<string, number>();
    service.servers.forEach((server, j) => {
      const address = isRecord(server) ? addressOf(server.address) : undefined;
      if (address === undefined) return;
      const first = seen.get(address);
      if (first !== undefined) {
        add(`${at}.servers[${j}].address`, `${address} is already listed as servers[${first}]; list each real server once and use "weight" to give it a larger share`);
      } else seen.set(address, j);
      if (address === vip) {
        add(`${at}.servers[${j}].address`, `${address} is the service's own VIP; list the real servers' own addresses (they carry the VIP on lo)`);
      } else if (vip !== undefined && familyOf(address) !== familyOf(vip)) {
        add(`${at}.servers[${j}].address`, `${address} is ${familyOf(address)} but the service's vip ${vip} is ${familyOf(vip)}; a service is one family (DR forwards the client's packet unchanged): give this server's ${familyOf(vip)} address, or put it in a separate ${familyOf(address)} service with an ${familyOf(address)} vip`);
      }
    });
    const size = service.maglevTableSize;
    if (typeof size === 'number' && !(maglevTableSize(size) instanceof Invalid) && size < service.servers.length) {
      add(`${at}.maglevTableSize`, `${size} is smaller than the number of servers (${service.servers.length}); Maglev needs more slots than servers, ideally 100 x: use 65537 (the default) or a larger prime`);
    }

    const sorry = service.sorryServer;
    const sorryAddress = isRecord(sorry) ? addressOf(sorry.address) : undefined;
    if (sorryAddress !== undefined) {
      if (sorryAddress === vip) add(`${at}.sorryServer.address`, `${sorryAddress} is the service's own VIP; give the sorry server's own address (it carries the VIP on lo like the real servers)`);
      else if (vip !== undefined && familyOf(sorryAddress) !== familyOf(vip)) {
        add(`${at}.sorryServer.address`, `${sorryAddress} is ${familyOf(sorryAddress)} but the service's vip ${vip} is ${familyOf(vip)}; a service is one family: give the sorry server's ${familyOf(vip)} address`);
      }
      const j = service.servers.findIndex((r) => isRecord(r) && addressOf(r.address) === sorryAddress);
      if (j >= 0) add(`${at}.sorryServer.address`, `${sorryAddress} is also servers[${j}]; the sorry server only takes flows when no server can, so list it in one place only`);
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

/**
 * With several workers, the kernel runs a classic BPF program built from the services to pick each
 * frame's worker (native/dataplane/fanout.cc); it refuses one longer than BPF_MAXINSNS.
 */
function fanoutSize(services: unknown[], workers: number, add: (path: string, message: string) => void): void {
  const known: FanoutService[] = [];
  for (const s of services) {
    const vip = isRecord(s) ? addressOf(s.vip) : undefined; // v6 too: a v6 VIP adds the program's v6 part
    if (!isRecord(s) || vip === undefined) continue;
    const port = s.port ?? DEFAULTS.port;
    known.push({ vip, port: isInt(port, 0, 65535) ? port : 0, flowKey: typeof s.flowKey === 'string' ? s.flowKey : DEFAULTS.flowKey });
  }
  const length = fanoutProgramLength(known);
  if (length > BPF_MAX_INSNS) {
    add('services', `need a fanout program of ${length} instructions to spread frames over ${workers} workers, more than the kernel's ${BPF_MAX_INSNS}: give all services of a VIP the same "flowKey" (a VIP whose services mix flow keys costs 2 instructions per service with a port), use fewer VIPs, or "workers": 1`);
  }
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

/**
 * Every string value holding a control, bidi or invisible character. Refused rather than escaped:
 * no field needs one, and a name that shows reversed in logs and counters misleads whoever reads them.
 * Walks with its own stack: the input may come from anywhere, not only from the depth-checked file.
 */
export function unsafeStrings(input: unknown): ConfigError[] {
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
