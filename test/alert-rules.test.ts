// The example alerting rules (deploy/prometheus/las-alerts.yml) only name metrics a real daemon
// exports: a renamed metric would leave an alert that silently never fires. promtool (installed
// with the Debian package prometheus when missing) checks the file's syntax and PromQL too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ensureCommand } from '../src/netns/ensure-package.js';
import { describe, it } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';
import { samples, scrape, startWith, waitFor } from './support/control.js';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/las-alerts.yml', import.meta.url));

interface RuleFile { groups: { name: string; rules: { alert: string; expr: string }[] }[] }

/** The `expr` of every alerting rule, whitespace folded. */
function ruleExprs(text: string): { alert: string; expr: string }[] {
  const file = parse(text) as RuleFile;
  return file.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: String(r.expr).split(/\s+/).join(' ').trim() })));
}

/** Metric names an expression reads: LAS's own (las_*); `up` is Prometheus's, not the daemon's. */
const metricNames = (expr: string): string[] => [...new Set(expr.match(/\blas_[a-z0-9_]+\b/g) ?? [])];

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      resolve({ code: error ? (typeof code === 'number' ? code : 1) : 0, out: stdout + stderr });
    });
  });
}

describe('example Prometheus alerting rules', () => {
  const yaml = readFileSync(RULES, 'utf8');
  const rules = ruleExprs(yaml);

  it('hold at least ten rules, each with a name and an expression', () => {
    assert.ok(rules.length >= 10, `only ${rules.length} rules`);
    for (const r of rules) assert.ok(r.alert !== '' && r.expr !== '', JSON.stringify(r));
  });

  it('name only metrics a running daemon exports', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
    await withDrLab({ servers: 2, startDaemon: false }, async (lab) => {
      // ha.mode "vrrp": las_ha_active, which the HA rules read, exists only there; the rest is the same.
      await startWith(lab, { healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4 } }, { ha: { mode: 'vrrp' } });
      // Histogram buckets appear once a check has been timed; per-worker counters once the fast path runs.
      let names = new Set<string>();
      await waitFor('a check-duration sample and the per-worker counters', async () => {
        names = new Set(samples(await scrape(lab)).map((s) => s.name));
        return names.has('las_health_check_duration_seconds_bucket') && names.has('las_ring_drops_total') && names.has('las_ha_active');
      }, 20_000, () => [...names].filter((n) => n.startsWith('las_')));
      const all = rules.flatMap((r) => metricNames(r.expr).map((name) => ({ alert: r.alert, name })));
      assert.ok(all.length >= rules.length - 1, 'rules without LAS metrics');
      const used = all.filter((u) => !u.name.startsWith('las_bgp_'));   // bgp mode's: the next test
      const missing = used.filter((u) => !names.has(u.name));
      assert.deepEqual(missing, [], `metrics the rules use but /metrics lacks; exported: ${[...names].filter((n) => n.startsWith('las_')).join(' ')}`);
    });
  });

  it('name only las_bgp_* metrics a daemon in ha.mode "bgp" exports', { timeout: 120_000, skip: needsRoot('network namespaces and BIRD') }, async () => {
    await ensureCommand('bird', 'bird2');
    const used = rules.flatMap((r) => metricNames(r.expr).filter((n) => n.startsWith('las_bgp_')).map((name) => ({ alert: r.alert, name })));
    assert.ok(used.length >= 3, `rules on las_bgp_*: ${JSON.stringify(used)}`);
    await withDrLab({ servers: 2, startDaemon: false }, async (lab) => {
      // A peer where no BGP speaker runs (the client): the session stays down, and is exported as 0.
      const ha = { mode: 'bgp', bgp: { localAddress: lab.segment.dispatcher.address, localAsn: 65001, peers: [{ address: lab.segment.client.address, asn: 65000 }] } };
      await startWith(lab, {}, { ha });
      let values = new Map<string, number>();
      await waitFor('the BGP gauges, the peer polled once', async () => {
        values = new Map(samples(await scrape(lab)).filter((s) => s.name.startsWith('las_bgp_')).map((s) => [s.name, s.value]));
        return values.has('las_bgp_peer_established');
      }, 20_000, () => [...values]);
      assert.deepEqual(used.filter((u) => !values.has(u.name)), [], `exported: ${JSON.stringify([...values])}`);
      assert.equal(values.get('las_bgp_speaker_up'), 1);
      assert.equal(values.get('las_bgp_peer_established'), 0);
      assert.equal(values.get('las_bgp_drained'), 0);
    });
  });

  it('pass `promtool check rules`', { timeout: 600_000, skip: needsRoot('installing the Debian package prometheus when promtool is missing') }, async () => {
    await ensureCommand('promtool', 'prometheus');
    const r = await run('promtool', ['check', 'rules', RULES]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});
