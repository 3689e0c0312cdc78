// The Prometheus registry reads the daemon's counters at scrape time and names every metric the
// operator needs: per-service and per-server traffic, health, active flows, table occupancy, drops.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDurationHistogram } from '../src/control/health/health-monitor.js';
import { createMetricsRegistry, type MetricsSource } from '../src/control/metrics.js';
import type { DataplaneStats, WorkerCounters } from '../src/native/binding.js';
import { EXPECTED_METRICS } from './support/control.js';


const worker: WorkerCounters = {
  rxPackets: 10n, rxBytes: 1000n, txPackets: 9n, txBytes: 900n, txErrors: 0n, arpReplies: 1n, ndpAdverts: 0n, passed: 1n, batches: 3n,
  gsoFrames: 2n, txSyscalls: 3n, wrongWorker: 0n,
  flowsActive: 4n, flowTableFull: 2n, flowsExpired: 5n, ringPackets: 10n, ringDrops: 7n, secondChance: 6n, drops: { no_server: 3n, oversize: 1n },
};
const stats: DataplaneStats = {
  workers: [worker],
  services: [{ vip: '10.0.0.100', port: 80, protocol: 'tcp', packets: 8n, bytes: 800n, newFlows: 4n, noServer: 3n, servers: [
    { address: '10.0.0.11', packets: 5n, bytes: 500n, newFlows: 3n, activeFlows: 3n },
    { address: '10.0.0.12', packets: 3n, bytes: 300n, newFlows: 1n, activeFlows: 1n },
  ] }],
};

const durations = checkDurationHistogram();
durations.observe({ service: 'web', server: '10.0.0.11' }, 0.003);
durations.observe({ service: 'web', server: '10.0.0.11' }, 0.2);

const source: MetricsSource = {
  stats: () => stats,
  status: () => [{
    name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp', scheduler: 'maglev', maglevTableSize: 65537, flowKey: '5tuple', onServerDown: 'reschedule',
    healthCheck: null, newFlows: 'servers', noServer: '3',
    servers: [
      { address: '10.0.0.11', role: 'real', weight: 1, configWeight: 1, health: 'up', checkHealth: 'up', arp: 'resolved', mac: '02:00:00:00:00:11', flapping: false, activeFlows: 3, packets: '5', bytes: '500', newFlows: '3' },
      { address: '10.0.0.12', role: 'real', weight: 0, configWeight: 1, health: 'down', checkHealth: 'down', arp: 'resolved', mac: '02:00:00:00:00:12', flapping: false, activeFlows: 1, packets: '3', bytes: '300', newFlows: '1', removed: { drainEndsInSeconds: 10 } },
      { address: '10.0.0.13', role: 'real', weight: 1, configWeight: 1, health: 'down', checkHealth: 'down', arp: 'resolved', mac: '02:00:00:00:00:13', flapping: false, activeFlows: 0, packets: '0', bytes: '0', newFlows: '0' },
      { address: '10.0.0.14', role: 'real', weight: 1, configWeight: 1, health: 'unchecked', checkHealth: 'unchecked', arp: 'resolved', mac: '02:00:00:00:00:14', flapping: false, activeFlows: 0, packets: '0', bytes: '0', newFlows: '0' },
    ],
  }],
  flowCapacity: () => 1024,
  aging: () => ({ passes: 1, scanned: 2, expired: 6, refused: 0, sweeps: 1 }),
  healthChecks: () => [{ service: 'web', address: '10.0.0.11', counts: { ok: 9, failed: 1 } }],
  reloads: () => ({ ok: 2, refused: 1, lastOk: false, lastSuccessMs: 1_700_000_000_500 }),
  healthDurations: durations,
  buildInfo: { version: '9.9.9', node: 'v20.0.0', napi: '8', addon: 'release' },
};

describe('metrics registry', () => {
  it('las_ha_active follows the HA role in vrrp mode, and is absent otherwise', async () => {
    let active = false;
    const text = async (src: MetricsSource) => createMetricsRegistry(src).metrics();
    assert.match(await text({ ...source, haActive: () => active }), /^las_ha_active 0$/m);
    active = true;
    assert.match(await text({ ...source, haActive: () => active }), /^las_ha_active 1$/m);
    assert.doesNotMatch(await text(source), /las_ha_active/);
  });

  it('exposes every expected metric with values from the source', async () => {
    const text = await createMetricsRegistry(source).metrics();
    for (const name of EXPECTED_METRICS) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    const has = (line: string) => assert.ok(text.split('\n').includes(line), `missing "${line}" in:\n${text}`);
    has('las_service_packets_total{service="web"} 8');
    has('las_service_no_server_total{service="web"} 3');
    has('las_server_active_flows{service="web",server="10.0.0.11",role="real"} 3');
    has('las_server_up{service="web",server="10.0.0.12",role="real"} 0');
    has('las_server_draining{service="web",server="10.0.0.12",role="real"} 1');
    has('las_server_weight{service="web",server="10.0.0.12",role="real"} 0');
    has('las_flow_table_entries{worker="0"} 4');
    has('las_flow_table_capacity{worker="0"} 1024');
    has('las_flow_table_full_total{worker="0"} 2');
    has('las_ring_drops_total{worker="0"} 7');
    has('las_second_chance_total{worker="0"} 6');
    has('las_drops_total{worker="0",reason="no_server"} 3');
    has('las_passed_total{worker="0"} 1');
    has('las_health_checks_total{service="web",server="10.0.0.11",result="failed"} 1');
    has('las_config_reloads_total{result="refused"} 1');
    assert.match(text, /^process_cpu_seconds_total /m); // the default process metrics too
  });

  it('build info, the last reload, check durations and a one-hot server state', async () => {
    const text = await createMetricsRegistry(source).metrics();
    const has = (line: string) => assert.ok(text.split('\n').includes(line), `missing "${line}" in:\n${text}`);
    has('las_build_info{version="9.9.9",node="v20.0.0",napi="8",addon="release"} 1');
    has('las_config_last_reload_successful 0');
    has('las_config_last_reload_success_timestamp_seconds 1700000000.5');
    has('# TYPE las_health_check_duration_seconds histogram');
    has('las_health_check_duration_seconds_bucket{le="0.0025",service="web",server="10.0.0.11"} 0');
    has('las_health_check_duration_seconds_bucket{le="0.005",service="web",server="10.0.0.11"} 1');
    has('las_health_check_duration_seconds_bucket{le="0.25",service="web",server="10.0.0.11"} 2');
    has('las_health_check_duration_seconds_count{service="web",server="10.0.0.11"} 2');
    const state = (server: string) => text.split('\n').filter((l) => l.startsWith(`las_server_state{service="web",server="${server}",`))
      .filter((l) => l.endsWith(' 1')).map((l) => /state="([a-z_]+)"/.exec(l)?.[1]);
    assert.deepEqual(state('10.0.0.11'), ['up']);
    assert.deepEqual(state('10.0.0.12'), ['drained']);      // weight 0 wins over its failed checks
    assert.deepEqual(state('10.0.0.13'), ['down']);
    assert.deepEqual(state('10.0.0.14'), ['not_checked']);
    // Every state has a line (0 or 1): an alert on state="down" == 1 sees the other three as 0.
    assert.equal(text.split('\n').filter((l) => l.startsWith('las_server_state{service="web",server="10.0.0.13",')).length, 4);
  });

  it('a daemon without a fast path yet still answers', async () => {
    const text = await createMetricsRegistry({ ...source, stats: () => undefined, status: () => [], healthDurations: undefined }).metrics();
    assert.match(text, /# TYPE las_rx_packets_total counter/);
    assert.match(text, /# TYPE las_health_check_duration_seconds histogram/);
  });
});
