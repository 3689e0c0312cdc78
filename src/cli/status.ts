// `las status`: services and their servers, like `ipvsadm -Ln`: weight, active and inactive
// connections, state. Exit code 2 when a service has no server that can take new flows.
import type { Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { usesTableSize } from '../native/contract.js';
import { ExitError, adminSocketFrom, examples, withSocketOptions } from './common.js';
import { count, endpoint, human, list, obj, table, text, type Obj } from './format.js';

/** Exit code when at least one service has no server for new flows (they go to the sorry server or are dropped). */
export const EXIT_NO_SERVER = 2;

export function registerStatus(program: Command): void {
  withSocketOptions(program.command('status'))
    .description('list services and real servers with scheduler, weight, active/inactive connections and state (like ipvsadm -Ln)')
    .option('--json', 'print the raw JSON answer')
    .option('--exact', 'print counts as exact integers, not in K/M units')
    .addHelpText(
      'after',
      `
ActiveConn: TCP flows the client has ACKed and not yet closed (no FIN or RST
seen). InActConn: every other flow in the flow table (SYN only, closing,
UDP), until aging removes it. LAS sees only the client's half (DR), as IPVS.
State: up, down (failed checks or no ARP answer), drained (weight 0),
not_checked (no health check).

Exit status: 0 every service has a server that can take new flows;
${EXIT_NO_SERVER} some service has none (its new flows go to its sorry server or are
dropped; named on stderr); 1 the daemon could not be asked.
${examples([
        'sudo las status',
        'sudo las status -c /etc/las/las.json --exact',
        'sudo las status --json | jq \'.services[].servers[] | select(.state == "down")\'',
        'sudo las status >/dev/null || echo "a service has no server"',
      ])}`,
    )
    .action(async (options: { socket?: string; config?: string; json?: boolean; exact?: boolean }) => {
      const result = await adminRequest(await adminSocketFrom(options), 'status');
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result, options.exact === true));
      const without = servicesWithoutServer(result);
      for (const s of without) {
        process.stderr.write(`las: service ${text(s.name)}: no server can take new flows; ${s.newFlows === 'dropped' ? 'they are dropped' : 'they go to the sorry server'}\n`);
      }
      if (without.length > 0) throw new ExitError(EXIT_NO_SERVER);
    });
}

export function servicesWithoutServer(result: unknown): Obj[] {
  return list(obj(result).services).map(obj).filter((s) => s.newFlows !== undefined && s.newFlows !== 'servers');
}

function note(r: Obj): string {
  const notes: string[] = [];
  if (r.role === 'sorry') notes.push('sorry server: new flows when no server can take them');
  if (r.override === 'drain') notes.push('drained (runtime, until reload)');
  else if (r.override === 'weight') notes.push(`weight set at runtime (config ${count(r.configWeight)})`);
  const removed = obj(r.removed);
  if (r.removed) notes.push(`removed from config: draining, at most ${count(removed.drainEndsInSeconds)}s more`);
  if (r.flapping === true) notes.push('flapping: comeback damped');
  if (typeof r.downReason === 'string') notes.push(r.downReason);
  else if (r.health === 'down' && typeof r.lastCheck === 'string') notes.push(r.lastCheck);
  return notes.join('; ');
}

/** A server's state; an older daemon without `state` gives its health. */
const stateOf = (r: Obj) => text(r.state, r.health === 'unchecked' ? 'not_checked' : text(r.health));

const sum = (servers: Obj[], field: string): number | undefined =>
  servers.every((r) => typeof r[field] === 'number') ? servers.reduce((n, r) => n + (r[field] as number), 0) : undefined;

export function formatStatus(result: unknown, exact = false): string {
  const status = obj(result);
  const n = (v: unknown) => human(v, exact);
  const table_ = obj(status.flowTable);
  const lines = [`LAS on ${text(status.interface)} (tx ${text(status.txMode)}), up ${count(status.uptimeSeconds)}s; ` +
    `flow table ${n(table_.capacity)} per worker, idle bound ${count(table_.idleTimeout)}s`];
  const rows: string[][] = [];
  for (const s of list(status.services).map(obj)) {
    const servers = list(s.servers).map(obj);
    const scheduler = usesTableSize(s.scheduler) ? `${text(s.scheduler)}(${count(s.maglevTableSize)})` : text(s.scheduler);
    const flags = [`flowKey=${text(s.flowKey)}`, `onServerDown=${text(s.onServerDown)}`];
    if (s.healthCheck) flags.push(`check: ${text(s.healthCheck)}`);
    flags.push(`no_server=${n(s.noServer)}`);
    const state = s.newFlows === 'servers' ? 'ok' : s.newFlows === 'dropped' ? 'NO SERVER' : 'SORRY';
    if (s.newFlows === 'dropped') flags.unshift('NEW FLOWS DROPPED: no server can take them');
    else if (s.newFlows === 'sorry server') flags.unshift('new flows to the sorry server: no server can take them');
    rows.push([`${text(s.protocol).toUpperCase()} ${endpoint(s.vip, s.port)} ${text(s.name)}`, scheduler, '',
      n(sum(servers, 'activeConn')), n(sum(servers, 'inactConn')), state, flags.join(' ')]);
    for (const r of servers) {
      rows.push([`  -> ${endpoint(r.address, s.port)}`, '', r.role === 'sorry' ? '-' : count(r.weight),
        n(r.activeConn), n(r.inactConn), r.role === 'sorry' ? `sorry/${stateOf(r)}` : stateOf(r), note(r)]);
    }
  }
  lines.push(table(['Prot LocalAddress:Port Name', 'Scheduler', 'Weight', 'ActiveConn', 'InActConn', 'State', 'Flags / Notes'], rows, [0, 1, 5, 6]));
  if (status.trace !== undefined) {
    // las trace: the fast path's trace state (off = the untraced loop).
    const traces = list(obj(status.trace).clients).map(obj);
    lines.push(traces.length === 0 ? 'trace: off' : `trace: ${traces.length} running (${traces.map((t) => text(t.filter)).join('; ')})`);
  }
  const ha = obj(status.ha);
  if (ha.mode === 'vrrp') {
    // An active/standby pair: a standby forwards nothing, which the table above does not say.
    lines.push(`HA (vrrp): ${ha.role === 'standby' ? 'STANDBY, forwarding nothing' : text(ha.role)} since ${text(ha.since)}, told by ${text(ha.toldBy)}`);
  }
  if (ha.mode === 'bgp') {
    // ha.mode "bgp": what this dispatcher announces, and to whom.
    const speaker = obj(ha.speaker);
    const prefixes = list(obj(ha.announced).prefixes).map((p) => text(p));
    const peers = list(ha.peers).map(obj).map((p) => `${text(p.peer)} ${text(p.state)}`);
    lines.push(`bgp: ${speaker.running === false ? `SPEAKER DOWN (${text(speaker.error)})` : ha.drained === true ? 'DRAINED, nothing announced' : `announcing ${prefixes.join(', ') || 'nothing (no server up)'}`}` +
      (peers.length > 0 ? `; peers: ${peers.join(', ')}` : ''));
  }
  return `${lines.join('\n')}\n`;
}
