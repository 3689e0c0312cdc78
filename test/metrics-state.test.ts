// A real daemon's /metrics tells up, down (failed checks), drained and not-checked servers apart,
// times its health checks, says which build it runs, and whether the last reload took.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';
import { las, lasOk, logLines, samples, scrape, waitFor } from './support/control.js';

type Sample = ReturnType<typeof samples>[number];

/** The states whose line is 1 for a server, after checking it has one line per state. */
function statesOf(all: Sample[], server: string): string[] {
  const lines = all.filter((s) => s.name === 'las_server_state' && s.labels.server === server);
  assert.deepEqual(lines.map((s) => s.labels.state).sort(), ['down', 'drained', 'not_checked', 'up'], server);
  return lines.filter((s) => s.value === 1).map((s) => s.labels.state!);
}

const one = (all: Sample[], name: string, labels: Record<string, string> = {}): number => {
  const found = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
};

/** Scrapes until an unlabelled gauge has a value (bounded). */
async function scrapeUntil(lab: DrLab, name: string, value: number): Promise<Sample[]> {
  let all: Sample[] = [];
  await waitFor(`${name} ${value}`, async () => {
    all = samples(await scrape(lab));
    return all.some((s) => s.name === name && s.value === value);
  }, 10_000, () => all.filter((s) => s.name === name));
  return all;
}

async function waitForStates(lab: DrLab, want: Record<string, string>): Promise<Sample[]> {
  let all: Sample[] = [];
  await waitFor(`server states ${JSON.stringify(want)}`, async () => {
    all = samples(await scrape(lab));
    return Object.entries(want).every(([server, state]) => statesOf(all, server).join() === state);
  }, 20_000, () => Object.keys(want).map((server) => [server, statesOf(all, server)]));
  return all;
}

test('server state one-hot, check durations, build info and the last reload, from a real daemon', { timeout: 120_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 3, startDaemon: false }, async (lab) => {
    const [s1, s2, s3] = lab.segment.servers.map((s) => s.address) as [string, string, string];
    const service = lab.config.services[0]!;
    const config = { ...lab.config, services: [{ ...service, healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4 } }] };
    await lab.writeConfig(config);
    const startedS = Date.now() / 1000;
    await lab.startDaemon();

    let all = await waitForStates(lab, { [s1]: 'up', [s2]: 'up', [s3]: 'up' });
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(one(all, 'las_build_info', { version: pkg.version, node: process.version, napi: process.versions.napi!, addon: process.env.LAS_ADDON ?? 'release' }), 1);
    assert.equal(one(all, 'las_config_last_reload_successful'), 1);
    const loadedAt = one(all, 'las_config_last_reload_success_timestamp_seconds');
    assert.ok(loadedAt >= Math.floor(startedS) && loadedAt <= Date.now() / 1000, `${loadedAt} vs start ${startedS}`);

    await lab.stopServer('s2');                          // its checks fail: down
    await lasOk(lab, ['server', 'drain', 'web', s3]);   // taken out on purpose: drained, not down
    all = await waitForStates(lab, { [s1]: 'up', [s2]: 'down', [s3]: 'drained' });

    // Every check is timed, the failed ones too; the histogram is consistent with itself.
    for (const server of [s1, s2]) {
      const labels = { service: 'web', server };
      const count = one(all, 'las_health_check_duration_seconds_count', labels);
      assert.ok(count >= 1, `${server}: ${count} checks timed`);
      assert.equal(one(all, 'las_health_check_duration_seconds_bucket', { ...labels, le: '+Inf' }), count);
      const buckets = all.filter((s) => s.name === 'las_health_check_duration_seconds_bucket' && s.labels.server === server);
      assert.equal(buckets.length, 14);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
    }

    // A refused reload: the gauge says so, the running config's timestamp stays.
    await lab.writeConfig({ ...config, workers: 'many' } as typeof config);
    const refused = await las(['reload', '--socket', lab.adminSocket]);
    assert.notEqual(refused.code, 0, refused.stdout);
    all = await scrapeUntil(lab, 'las_config_last_reload_successful', 0); // renderings are cached for 100 ms
    assert.equal(one(all, 'las_config_last_reload_successful'), 0);
    assert.equal(one(all, 'las_config_reloads_total', { result: 'refused' }), 1);
    assert.equal(one(all, 'las_config_last_reload_success_timestamp_seconds'), loadedAt);
    assert.equal(logLines(lab, /^reload refused/)[0]?.level, 'error');

    await lab.writeConfig(config);
    await lasOk(lab, ['reload']);
    all = await scrapeUntil(lab, 'las_config_last_reload_successful', 1);
    assert.equal(one(all, 'las_config_last_reload_successful'), 1);
    assert.equal(one(all, 'las_config_reloads_total', { result: 'ok' }), 1);
    assert.ok(one(all, 'las_config_last_reload_success_timestamp_seconds') > loadedAt);
    assert.equal(logLines(lab, /^server down/)[0]?.level, 'warn');
  });
});
