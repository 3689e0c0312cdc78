// The example alerting rules (deploy/prometheus/las-alerts.yml) only name metrics a real daemon
// exports: a renamed metric would leave an alert that silently never fires. promtool, when
// installed, checks the file's syntax and PromQL too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';
import { samples, scrape, startWith, waitFor } from './support/control.js';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/las-alerts.yml', import.meta.url));

/**
 * The `expr:` of every rule. The file keeps to a subset of YAML this reads without a YAML library:
 * `expr:` on one line, or `expr: |` / `expr: >` followed by more-indented lines.
 */
function ruleExprs(yaml: string): { alert: string; expr: string }[] {
  const lines = yaml.split('\n');
  const out: { alert: string; expr: string }[] = [];
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const name = /^\s*- alert:\s*(\S+)\s*$/.exec(line);
    if (name) alert = name[1]!;
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!m) continue;
    let expr = m[2]!.trim();
    if (expr === '|' || expr === '>' || expr === '|-' || expr === '>-') {
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > m[1]!.length)) body.push(lines[++i]!.trim());
      expr = body.join(' ').trim();
    }
    assert.ok(alert !== '', `expr before any "- alert:": ${line}`);
    out.push({ alert, expr });
  }
  return out;
}

/** Metric names an expression reads: LAS's own (las_*); `up` is Prometheus's, not the daemon's. */
const metricNames = (expr: string): string[] => [...new Set(expr.match(/\blas_[a-z0-9_]+\b/g) ?? [])];

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      resolve({ code: error ? (typeof code === 'number' ? code : 1) : 0, out: stdout + stderr, missing: code === 'ENOENT' });
    });
  });
}

describe('example Prometheus alerting rules', () => {
  const yaml = readFileSync(RULES, 'utf8');
  const rules = ruleExprs(yaml);

  it('are read whole: as many exprs as alerts, the same as a YAML parser reads (when python3-yaml is there)', async (t) => {
    assert.ok(rules.length >= 10, `only ${rules.length} rules`);
    assert.equal(rules.length, (yaml.match(/^\s*- alert:/gm) ?? []).length);
    const py = await run('python3', ['-c', 'import json,sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(json.dumps([[r["alert"], " ".join(r["expr"].split())] for g in d["groups"] for r in g["rules"]]))', RULES]);
    if (py.code !== 0) {
      t.skip(`python3 with PyYAML not available (${py.out.trim().split('\n').pop()}): the line reader is checked by the count only`);
      return;
    }
    assert.deepEqual(rules.map((r) => [r.alert, r.expr.split(/\s+/).join(' ')]), JSON.parse(py.out));
  });

  it('name only metrics a running daemon exports', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
    await withDrLab({ servers: 2, startDaemon: false }, async (lab) => {
      await startWith(lab, { healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4 } });
      // Histogram buckets appear once a check has been timed; per-worker counters once the fast path runs.
      let names = new Set<string>();
      await waitFor('a check-duration sample and the per-worker counters', async () => {
        names = new Set(samples(await scrape(lab)).map((s) => s.name));
        return names.has('las_health_check_duration_seconds_bucket') && names.has('las_ring_drops_total');
      }, 20_000, () => [...names].filter((n) => n.startsWith('las_')));
      const used = rules.flatMap((r) => metricNames(r.expr).map((name) => ({ alert: r.alert, name })));
      assert.ok(used.length >= rules.length - 1, 'rules without LAS metrics');
      const missing = used.filter((u) => !names.has(u.name));
      assert.deepEqual(missing, [], `metrics the rules use but /metrics lacks; exported: ${[...names].filter((n) => n.startsWith('las_')).join(' ')}`);
    });
  });

  it('pass `promtool check rules`', async (t) => {
    const r = await run('promtool', ['check', 'rules', RULES]);
    if (r.missing) {
      t.skip('promtool is not installed (Debian: apt-get install prometheus)');
      return;
    }
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});
