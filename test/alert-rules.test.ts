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
      const used = rules.flatMap((r) => metricNames(r.expr).map((name) => ({ alert: r.alert, name })));
      assert.ok(used.length >= rules.length - 1, 'rules without LAS metrics');
      const missing = used.filter((u) => !names.has(u.name));
      assert.deepEqual(missing, [], `metrics the rules use but /metrics lacks; exported: ${[...names].filter((n) => n.startsWith('las_')).join(' ')}`);
    });
  });

  it('pass `promtool check rules`', { timeout: 600_000, skip: needsRoot('installing the Debian package prometheus when promtool is missing') }, async () => {
    await ensureCommand('promtool', 'prometheus');
    const r = await run('promtool', ['check', 'rules', RULES]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});
