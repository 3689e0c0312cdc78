// Helpers for the control-plane integration tests (health, aging, reload, admin, metrics) on top
// of the namespace lab (dr-lab.ts): start the daemon with service keys the lab does not know,
// wait (bounded) for state, run `las` verbs, read status and flows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DrLab } from './dr-lab.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export const EXPECTED_METRICS = [
  'las_service_packets_total', 'las_service_bytes_total', 'las_service_new_flows_total', 'las_service_no_server_total',
  'las_server_packets_total', 'las_server_bytes_total', 'las_server_new_flows_total', 'las_server_active_flows',
  'las_server_up', 'las_server_weight', 'las_server_draining', 'las_health_checks_total',
  'las_flow_table_entries', 'las_flow_table_capacity', 'las_flow_table_full_total', 'las_flows_expired_total',
  'las_rx_packets_total', 'las_tx_packets_total', 'las_ring_drops_total', 'las_drops_total',
  'las_tx_syscalls_total', 'las_gso_frames_total', 'las_wrong_worker_total', 'las_passed_total',
  'las_aging_expired_total', 'las_config_reloads_total',
  'las_server_state', 'las_config_last_reload_successful', 'las_config_last_reload_success_timestamp_seconds', 'las_build_info',
];

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `test` every 50 ms until true; fails after timeoutMs with `what` and the last detail. */
export async function waitFor(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number, detail: () => unknown = () => ''): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await test()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms. ${JSON.stringify(await detail())}`);
    await sleep(50);
  }
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs `las ARGS` (bounded); never throws for a non-zero exit. */
export function las(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `las ARGS --socket LAB` that must succeed; returns stdout. */
export async function lasOk(lab: DrLab, args: string[]): Promise<string> {
  const r = await las([...args, '--socket', lab.adminSocket]);
  assert.equal(r.code, 0, `las ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Starts the daemon after putting `service` keys (healthCheck, sorryServer...) and top-level keys in the config. */
export async function startWith(lab: DrLab, service: Record<string, unknown>, top: Record<string, unknown> = {}): Promise<void> {
  const config = { ...lab.config, ...top, services: [{ ...lab.config.services[0], ...service }, ...lab.config.services.slice(1)] };
  await lab.writeConfig(config);
  await lab.startDaemon();
}

export interface ServerRow { address: string; role: string; weight: number; health: string; activeFlows: number; override?: string; removed?: unknown }
export interface ServiceRow { name: string; newFlows: string; noServer: string; servers: ServerRow[] }

export async function status(lab: DrLab): Promise<ServiceRow[]> {
  return ((await lab.admin('status')) as { services: ServiceRow[] }).services;
}

export async function serverRow(lab: DrLab, address: string, service = 'web'): Promise<ServerRow | undefined> {
  return (await status(lab)).find((s) => s.name === service)?.servers.find((r) => r.address === address);
}

export interface FlowRow { service: string | null; protocol: string; client: string; vip: string; server: string; state: string; idleMs: number; ageMs: number }

export async function flows(lab: DrLab, service?: string, limit = 100_000): Promise<{ total: number; flows: FlowRow[] }> {
  return (await lab.admin('flows', { ...(service ? { service } : {}), limit }, 30_000)) as { total: number; flows: FlowRow[] };
}

/** Daemon log lines (pino JSON) whose msg matches. */
export function logLines(lab: DrLab, msg: RegExp): Record<string, unknown>[] {
  return lab.daemonOutput().stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l.msg === 'string' && msg.test(l.msg));
}

/** Server name ("s2") of an address in the lab. */
export function nameOf(lab: DrLab, address: string): string {
  const found = lab.segment.servers.find((s) => s.address === address);
  assert.ok(found, `no lab server has ${address}`);
  return found.name;
}

export function addressOf(lab: DrLab, name: string): string {
  const found = lab.segment.servers.find((s) => s.name === name);
  assert.ok(found, `no lab server ${name}`);
  return found.address;
}

/** GET from inside a namespace (bounded); "ERR <code>" when the connection fails, else "<status>\n<body>". */
export async function httpGetIn(lab: DrLab, role: string, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status + '\\n' + await r.text()), (e) => console.log('ERR ' + (e.cause?.code ?? e.message)))`;
  return (await lab.exec(role, process.execPath, ['-e', script], { timeoutMs: 10_000 })).stdout;
}

/** The daemon's /metrics text (default listen 127.0.0.1:9477), asserting a 200. */
export async function scrape(lab: DrLab, url = 'http://127.0.0.1:9477/metrics'): Promise<string> {
  const body = await httpGetIn(lab, 'dispatcher', url);
  assert.ok(body.startsWith('200\n'), body.slice(0, 200));
  return body.slice(4);
}

/** Sample lines of a metrics text: name, labels and value ("las_x{a="b"} 1"). */
export function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
