// Prometheus metrics (prom-client) on metrics.listen, 127.0.0.1:9477 by default, served by a worker
// thread (metrics-http.ts). Everything is read at scrape time from the fast path's counters and the
// control plane's state; only the last rendering is kept, for RENDER_CACHE_MS.
import { Worker } from 'node:worker_threads';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Histogram } from 'prom-client';
import type { DataplaneStats } from '../native/binding.js';
import type { AgingTotals } from './aging/aging.js';
import { buildInfo, type BuildInfo } from './build-info.js';
import { checkDurationHistogram, type CheckCounts } from './health/health-monitor.js';
import type { ReloadRecord } from './reload-record.js';
import { SERVER_STATES, serverState, type ServiceStatus } from './status.js';
import { METRICS_LIMITS, type MainMessage, type MetricsLimits, type RenderWhat, type WorkerMessage } from './metrics-limits.js';
import { HISTORY_INTERVAL_MS, type RatePoint } from './status-history.js';

import type { AnnouncerStatus } from './ha/bgp-announcer.js';
import { bgpGauges } from './ha/bgp-metrics.js';
export { METRICS_LIMITS } from './metrics-limits.js';

export interface MetricsSource {
  stats(): DataplaneStats | undefined;
  status(): ServiceStatus[];
  flowCapacity(): number;   // entries per worker shard
  aging(): AgingTotals;
  healthChecks(): { service: string; address: string; counts: CheckCounts }[];
  reloads(): Pick<ReloadRecord, 'ok' | 'refused' | 'lastOk' | 'lastSuccessMs'>;
  /** The health monitor's check durations (checkDurationHistogram()), exported as they are. */
  healthDurations?: Histogram<'service' | 'server'>;
  buildInfo?: BuildInfo;        // tests only; else this process's
  /** HA role (ha.mode "vrrp"): true while active; absent: not exported. */
  haActive?: () => boolean | undefined;
  /** ha.mode "bgp": what the announcer says (undefined before it started); absent: not exported. */
  bgp?: () => AnnouncerStatus | undefined;
}


const num = (v: bigint | number | string | undefined) => (v === undefined ? Number.NaN : Number(v));

/** A registry whose metrics all read `source` when scraped (one sample shared by a whole scrape). */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  let sampledAt = 0;
  let sample: { stats: DataplaneStats | undefined; status: ServiceStatus[] } = { stats: undefined, status: [] };
  const current = () => {
    const now = Date.now();
    if (now - sampledAt > 100) {
      sample = { stats: source.stats(), status: source.status() };
      sampledAt = now;
    }
    return sample;
  };

  const counter = (name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, value: number) => void) => void) =>
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        // A counter the addon does not report (NaN) is left out rather than exported as garbage.
        fill((labels, value) => Number.isFinite(value) && this.inc(labels, Math.max(0, value)));
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, value: number) => void) => void) =>
    new Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => Number.isFinite(value) && this.set(labels, value));
      },
    });

  // Per service.
  const perService = (field: 'packets' | 'bytes' | 'newFlows' | 'noServer') => (set: (l: Record<string, string>, v: number) => void) => {
    const { stats, status } = current();
    for (const s of status) {
      const c = stats?.services.find((x) => x.vip === s.vip && x.port === s.port && x.protocol === s.protocol);
      if (c) set({ service: s.name }, num(c[field]));
    }
  };
  counter('las_service_packets_total', 'Packets forwarded for the service', ['service'], perService('packets'));
  counter('las_service_bytes_total', 'Bytes forwarded for the service', ['service'], perService('bytes'));
  counter('las_service_new_flows_total', 'New flows scheduled for the service', ['service'], perService('newFlows'));
  counter('las_service_no_server_total', 'New flows dropped because no server (nor a sorry server) could take them', ['service'], perService('noServer'));

  // Per server.
  const perServer = (fill: (s: ServiceStatus, r: ServiceStatus['servers'][number], set: (l: Record<string, string>, v: number) => void) => void) =>
    (set: (l: Record<string, string>, v: number) => void) => {
      for (const s of current().status) for (const r of s.servers) fill(s, r, set);
    };
  const labels = (s: ServiceStatus, r: ServiceStatus['servers'][number]) => ({ service: s.name, server: r.address, role: r.role });
  const serverLabels = ['service', 'server', 'role'];
  counter('las_server_packets_total', 'Packets forwarded to the server', serverLabels, perServer((s, r, set) => set(labels(s, r), num(r.packets))));
  counter('las_server_bytes_total', 'Bytes forwarded to the server', serverLabels, perServer((s, r, set) => set(labels(s, r), num(r.bytes))));
  counter('las_server_new_flows_total', 'New flows scheduled to the server', serverLabels, perServer((s, r, set) => set(labels(s, r), num(r.newFlows))));
  gauge('las_server_active_flows', 'Flows in the flow tables that point at the server', serverLabels, perServer((s, r, set) => set(labels(s, r), r.activeFlows)));
  gauge('las_server_up', 'Health: 1 up (or not checked), 0 down (failed checks, or no ARP answer yet)', serverLabels, perServer((s, r, set) => set(labels(s, r), r.health === 'down' ? 0 : 1)));
  gauge('las_server_weight', 'Weight the scheduler uses now (0: drained, removed or overridden)', serverLabels, perServer((s, r, set) => set(labels(s, r), r.weight)));
  gauge('las_server_state', 'One-hot server state: up, down (failed checks or no ARP answer), drained (weight 0: drained, removed or set to 0), not_checked (no health check)',
    [...serverLabels, 'state'], perServer((s, r, set) => {
      const state = serverState(r);
      for (const candidate of SERVER_STATES) set({ ...labels(s, r), state: candidate }, candidate === state ? 1 : 0);
    }));
  gauge('las_server_draining', '1 while a server removed from the config drains its flows', serverLabels, perServer((s, r, set) => set(labels(s, r), r.removed ? 1 : 0)));
  counter('las_health_checks_total', 'Health checks run, by result', ['service', 'server', 'result'], (set) => {
    for (const { service, address, counts } of source.healthChecks()) {
      set({ service, server: address, result: 'ok' }, counts.ok);
      set({ service, server: address, result: 'failed' }, counts.failed);
    }
  });

  // Per worker (I/O thread).
  type W = DataplaneStats['workers'][number];
  const perWorker = (value: (w: W) => bigint | number | undefined) => (set: (l: Record<string, string>, v: number) => void) =>
    current().stats?.workers.forEach((w, i) => set({ worker: String(i) }, num(value(w))));
  counter('las_rx_packets_total', 'Frames received by the I/O thread', ['worker'], perWorker((w) => w.rxPackets));
  counter('las_rx_bytes_total', 'Bytes received by the I/O thread', ['worker'], perWorker((w) => w.rxBytes));
  counter('las_tx_packets_total', 'Frames sent by the I/O thread', ['worker'], perWorker((w) => w.txPackets));
  counter('las_tx_bytes_total', 'Bytes sent by the I/O thread', ['worker'], perWorker((w) => w.txBytes));
  counter('las_tx_errors_total', 'Frames the I/O thread failed to send', ['worker'], perWorker((w) => w.txErrors));
  counter('las_tx_syscalls_total', 'Transmit syscalls (frames per syscall = tx_packets / this)', ['worker'], perWorker((w) => w.txSyscalls));
  counter('las_gso_frames_total', 'TCP super-frames received and forwarded whole (the kernel segments them)', ['worker'], perWorker((w) => w.gsoFrames));
  counter('las_wrong_worker_total', 'Frames the fanout gave a worker that does not own their flow (expected 0)', ['worker'], perWorker((w) => w.wrongWorker));
  counter('las_arp_replies_total', 'ARP replies sent for the VIPs', ['worker'], perWorker((w) => w.arpReplies));
  counter('las_ndp_adverts_total', 'Neighbor Advertisements sent answering solicitations for the v6 VIPs', ['worker'], perWorker((w) => w.ndpAdverts));
  counter('las_passed_total', 'Frames not for a VIP, left to the kernel (not drops)', ['worker'], perWorker((w) => w.passed));
  gauge('las_flow_table_entries', 'Flows in the worker\'s flow-table shard', ['worker'], perWorker((w) => w.flowsActive));
  gauge('las_flow_table_capacity', 'Flows the worker\'s shard can hold', ['worker'], perWorker(() => source.flowCapacity()));
  counter('las_flow_table_full_total', 'New flows forwarded without an entry because the shard was full', ['worker'], perWorker((w) => w.flowTableFull));
  counter('las_flows_expired_total', 'Flows removed by aging and the idle sweep', ['worker'], perWorker((w) => w.flowsExpired));
  counter('las_ring_packets_total', 'Frames the kernel offered to the RX ring', ['worker'], perWorker((w) => w.ringPackets));
  counter('las_ring_drops_total', 'Frames the kernel dropped because the RX ring was full', ['worker'], perWorker((w) => w.ringDrops));
  counter('las_second_chance_total', 'TCP packets without SYN and without an entry sent by the previous Maglev table (ha.secondChance)', ['worker'], perWorker((w) => w.secondChance));
  counter('las_drops_total', 'Frames dropped, by reason', ['worker', 'reason'], (set) =>
    current().stats?.workers.forEach((w, i) => {
      for (const [reason, n] of Object.entries(w.drops)) set({ worker: String(i), reason }, num(n));
    }));

  // Control plane.
  counter('las_aging_expired_total', 'Expiry commands the aging worker queued', [], (set) => set({}, source.aging().expired));
  counter('las_aging_sweeps_total', 'Full passes of the aging worker over the flow tables', [], (set) => set({}, source.aging().sweeps));
  counter('las_config_reloads_total', 'Reloads, by result', ['result'], (set) => {
    const r = source.reloads();
    set({ result: 'ok' }, r.ok);
    set({ result: 'refused' }, r.refused);
  });
  gauge('las_config_last_reload_successful', '1 if the last reload (or the start) applied the config file, 0 if it was refused', [], (set) => set({}, source.reloads().lastOk ? 1 : 0));
  gauge('las_config_last_reload_success_timestamp_seconds', 'When the running config was loaded: the start or the last successful reload (Unix time)', [], (set) => set({}, source.reloads().lastSuccessMs / 1000));
  registry.registerMetric(source.healthDurations ?? checkDurationHistogram());
  const info = source.buildInfo ?? buildInfo();
  if (source.haActive) {
    const haActive = source.haActive;
    // An alert on "no dispatcher of the pair active" sums this over both.
    gauge('las_ha_active', 'HA role (ha.mode "vrrp"): 1 active (forwards, answers ARP), 0 standby', [], (set) => {
      const active = haActive();
      if (active !== undefined) set({}, active ? 1 : 0);
    });
  }
  if (source.bgp) bgpGauges(gauge, source.bgp);
  gauge('las_build_info', 'Always 1; the labels say which LAS, Node and addon this daemon runs', Object.keys(info), (set) => set({ ...info }, 1));
  return registry;
}

export interface MetricsServer {
  address: string;
  port: number;                // the bound port (listen may say 0 in tests)
  close(): Promise<void>;
}

/** Scrapes within this share one rendering: a storm costs the main thread at most one per interval. */
const RENDER_CACHE_MS = 100;

/** The live status page on the same listener (GET /, /status.json): what it shows now, and its charts' samples. */
export interface StatusPageSource {
  document(): unknown;                  // status-document.ts, JSON-ready
  sample(): RatePoint | undefined;      // status-history.ts, called every HISTORY_INTERVAL_MS
}

/**
 * Serves GET /metrics on "host:port" from a worker thread (metrics-http.ts): parsing, connections
 * and the limits of hostile scrapers cost that thread, never the main event loop that runs the
 * admin socket, reloads and health decisions. The main thread only renders the text, at most once
 * per RENDER_CACHE_MS, when the worker asks for it.
 */
export async function startMetricsServer(
  listen: string, registry: Registry, limits: Partial<MetricsLimits> = {}, onError: (error: Error) => void = () => undefined, statusPage?: StatusPageSource,
): Promise<MetricsServer> {
  const worker = new Worker(new URL('./metrics-http.js', import.meta.url), { workerData: { listen, limits: { ...METRICS_LIMITS, ...limits }, statusPage: statusPage !== undefined } });
  const renderers: Record<RenderWhat, { contentType: string; text: () => Promise<string> }> = {
    metrics: { contentType: registry.contentType, text: () => registry.metrics() },
    status: { contentType: 'application/json', text: async () => JSON.stringify(statusPage?.document() ?? null) },
  };
  const last: Partial<Record<RenderWhat, { at: number; text: Promise<string> }>> = {};
  const render = (what: RenderWhat) => {
    const now = Date.now();
    const cached = last[what];
    if (cached && now - cached.at <= RENDER_CACHE_MS) return cached.text;
    const text = renderers[what].text();
    last[what] = { at: now, text };
    return text;
  };
  const send = (message: MainMessage) => worker.postMessage(message);
  worker.on('message', (message: WorkerMessage) => {
    if (message.type !== 'render') return;
    const { what } = message;
    render(what).then(
      (text) => send({ type: 'text', what, text, contentType: renderers[what].contentType }),
      (error: unknown) => send({ type: 'error', what, error: String(error) }),
    );
  });
  // The charts' samples go to the listener as they are taken; it keeps the window.
  const sampler = statusPage && setInterval(() => {
    try {
      const point = statusPage.sample();
      if (point) send({ type: 'history', seq: point.seq, point: JSON.stringify(point) });
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
    }
  }, HISTORY_INTERVAL_MS);
  sampler?.unref();
  let onMessage: ((message: WorkerMessage) => void) | undefined;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      onMessage = (message: WorkerMessage) => {
        if (message.type === 'listening') resolve(message.port);
        else if (message.type === 'listen-error') {
          reject(new Error(`metrics: cannot listen on ${listen}: ${message.code}; change "metrics.listen" or set "metrics": { "enabled": false }`));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`metrics: the listener thread exited (${code}) before listening on ${listen}`)));
    });
  } catch (error) {
    // The thread would keep the process alive: a daemon that cannot start must still exit.
    clearInterval(sampler);
    await worker.terminate();
    throw error;
  } finally {
    if (onMessage) worker.off('message', onMessage);
    worker.removeAllListeners('error').removeAllListeners('exit');
  }
  worker.on('error', onError); // a crash of the listener thread must not take the daemon down: reported
  return {
    address: listen,
    port,
    close: async () => {
      clearInterval(sampler);
      await worker.terminate();
    },
  };
}
