// The admin socket's commands, with their arguments checked here so that a malformed request gets
// an error that says what to send, never an exception from deep inside the daemon.
import type { AdminHandlers } from './admin-server.js';
import { isIPv4 } from '../config/schema.js';
import { canonicalIPv6 } from '../config/addresses.js';
import { checkTuples } from './explain.js';
import type { ExplainTuple } from '../native/binding.js';

export type ServerAction = 'drain' | 'enable' | 'weight';

export interface DaemonControl {
  stats(): unknown;
  status(): unknown;
  reload(): Promise<unknown>;
  flows(service: string | undefined, limit: number): Promise<unknown>;
  server(action: ServerAction, service: string, address: string, weight?: number): unknown;
  explain(tuples: ExplainTuple[]): Promise<unknown>;
  /** ha.mode "bgp": withdraw (true) or announce again (false) every VIP of this dispatcher. */
  drainDispatcher(drained: boolean): Promise<unknown>;
  /** A streaming answer (AdminStream); the arguments are checked by trace-filter.ts. */
  trace(args: unknown): unknown;
  /** HA role (ha.mode "vrrp"): set it when `role` is given, else show it. */
  role(role: 'active' | 'standby' | undefined): unknown;
}

export const DEFAULT_FLOW_LIMIT = 100;
export const MAX_FLOW_LIMIT = 100_000;

type Args = Record<string, unknown>;

function argsObject(args: unknown, usage: string): Args {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new Error(`"args" must be an object, e.g. ${usage}`);
  return args as Args;
}

function noOtherKeys(args: Args, known: string[], usage: string): void {
  const extra = Object.keys(args).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new Error(`unknown argument${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}; expected ${usage}`);
}

/** A verb without arguments still refuses any it is given, like the others refuse wrong ones. */
function noArgs(cmd: string, raw: unknown): void {
  const args = argsObject(raw, `{} (or leave "args" out): "${cmd}" takes no arguments`);
  noOtherKeys(args, [], `no arguments: "${cmd}" takes none`);
}

export function adminHandlers(control: DaemonControl): AdminHandlers {
  return {
    stats: (raw) => {
      noArgs('stats', raw);
      return control.stats();
    },
    status: (raw) => {
      noArgs('status', raw);
      return control.status();
    },
    reload: (raw) => {
      noArgs('reload', raw);
      return control.reload();
    },
    flows: (raw) => {
      const usage = '{"service":"web","limit":100} (both optional)';
      const args = argsObject(raw, usage);
      noOtherKeys(args, ['service', 'limit'], usage);
      const { service, limit = DEFAULT_FLOW_LIMIT } = args;
      if (service !== undefined && typeof service !== 'string') throw new Error(`"service" must be a service name (a string); got ${JSON.stringify(service)}`);
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_FLOW_LIMIT) {
        throw new Error(`"limit" must be an integer from 1 to ${MAX_FLOW_LIMIT}; got ${JSON.stringify(limit)}`);
      }
      return control.flows(service, limit);
    },
    explain: (raw) => {
      const usage = '{"tuples":[{"protocol":"tcp","client":"198.51.100.7","clientPort":40112,"vip":"10.0.0.100","port":80}]}';
      const args = argsObject(raw, usage);
      noOtherKeys(args, ['tuples'], usage);
      return control.explain(checkTuples(args.tuples));
    },
    trace: (raw) => control.trace(raw),
    role: (raw) => {
      const usage = '{"role":"active"} or {"role":"standby"}, or {} to show the role';
      const args = argsObject(raw, usage);
      noOtherKeys(args, ['role'], usage);
      const { role } = args;
      if (role !== undefined && role !== 'active' && role !== 'standby') throw new Error(`"role" must be "active" or "standby"; got ${JSON.stringify(role)}`);
      return control.role(role);
    },
    drain: (raw) => {
      noArgs('drain', raw);
      return control.drainDispatcher(true);
    },
    undrain: (raw) => {
      noArgs('undrain', raw);
      return control.drainDispatcher(false);
    },
    server: (raw) => {
      const usage = '{"action":"drain|enable|weight","service":"web","address":"10.0.0.11","weight":2}';
      const args = argsObject(raw, usage);
      noOtherKeys(args, ['action', 'service', 'address', 'weight'], usage);
      const { action, service, address, weight } = args;
      if (action !== 'drain' && action !== 'enable' && action !== 'weight') throw new Error(`"action" must be "drain", "enable" or "weight"; got ${JSON.stringify(action)}`);
      if (typeof service !== 'string' || service === '') throw new Error(`"service" must be a service name; got ${JSON.stringify(service)}`);
      // A v6 server is named by its canonical form, the one the config holds.
      const server = isIPv4(address) ? address : canonicalIPv6(address);
      if (server === undefined) throw new Error(`"address" must be a server's dotted IPv4 address or IPv6 address; got ${JSON.stringify(address)}`);
      if (action === 'weight') {
        if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 65535) {
          throw new Error(`"weight" must be an integer from 0 to 65535; got ${JSON.stringify(weight)}`);
        }
        return control.server(action, service, server, weight);
      }
      if (weight !== undefined) throw new Error(`"weight" only goes with "action": "weight"`);
      return control.server(action, service, server);
    },
  };
}
