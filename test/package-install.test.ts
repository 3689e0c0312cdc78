// The README's install path, as on a fresh machine: `npm pack` (which builds dist first), then the
// tarball installed globally into an empty prefix (the addon compiled at install), and the installed
// `las` run: --version, check, and (as root) the namespace demo. The tarball holds the product only
// (no tests, benchmark or build output) and the install pulls no benchmark dependency.
// Skipped, saying why, where npm cannot reach its registry (the dependencies come from there).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { test } from 'node:test';
import { PACKAGE_NAME, repoRoot } from '../src/demo/processes.js';
import { slowForUnitRun } from './support/needs-root.js';

interface Run { code: number; stdout: string; stderr: string }

// Only what a user's shell would have: none of the npm_* variables of an `npm test` around us.
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
  ...extra,
});

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const show = (r: Run) => `exit ${r.code}\n--- stderr ---\n${r.stderr.slice(-3000)}\n--- stdout ---\n${r.stdout.slice(-3000)}`;

test('npm pack, npm install -g of the tarball into an empty prefix, then the installed las: --version, check, demo', { timeout: 1_200_000, skip: slowForUnitRun('packs, installs from the registry and compiles the addon (minutes)') }, async (t) => {
  const ping = await run('npm', ['ping'], { timeoutMs: 60_000 });
  if (ping.code !== 0) {
    t.skip(`npm cannot reach its registry, so the tarball's dependencies cannot be installed: ${ping.stderr.trim().split('\n').slice(-2).join(' ')}`);
    return;
  }
  const root = repoRoot();
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string; license: string };
  assert.equal(manifest.name, PACKAGE_NAME);
  const dir = await mkdtemp(join(tmpdir(), 'las-pack-'));
  try {
    // npm pack runs `prepare` (tsc) first: the tarball carries a dist built from these sources.
    const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, timeoutMs: 300_000 });
    assert.equal(pack.code, 0, show(pack));
    const [packed] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[]; size: number; unpackedSize: number }];
    const files = packed.files.map((f) => f.path);
    t.diagnostic(`${packed.filename}: ${files.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
    for (const needed of ['package.json', 'LICENSE', 'README.md', 'binding.gyp', 'deploy/las.service', 'dist/src/cli/main.js', 'native/addon/addon.cc', 'native/os/sd_notify.cc',
      'dist/src/control/status-page/index.html', 'dist/src/control/status-page/page.js', 'dist/src/control/status-page/page.css']) {
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    }
    const stray = files.filter((f) => /^(test|bench|build|build-asan|src|node_modules|dist\/(test|bench))\//.test(f) || f.endsWith('.map') || f.endsWith('.ts'));
    assert.deepEqual(stray, [], 'no tests, benchmark, sources or build output in the tarball');
    assert.match(await readFile(join(root, 'LICENSE'), 'utf8'), new RegExp(`^${manifest.license} License\\n\\nCopyright \\(c\\) 2026 the LAS authors\\n`));

    // The README's command, into a prefix of our own; --prefer-offline uses npm's cache where it can.
    const prefix = join(dir, 'prefix');
    const tarball = join(dir, packed.filename);
    const install = await run('npm', ['install', '-g', `--allow-scripts=${PACKAGE_NAME}`, '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { timeoutMs: 900_000 });
    assert.equal(install.code, 0, show(install));
    const installed = join(prefix, 'lib', 'node_modules', PACKAGE_NAME);
    assert.ok(existsSync(join(installed, 'build', 'Release', 'las_native.node')), `the addon was compiled at install:\n${show(install)}`);
    for (const benchOnly of ['vega', 'vega-lite', 'cli-progress']) {
      assert.ok(!existsSync(join(installed, 'node_modules', benchOnly)), `${benchOnly} (benchmark only) was not installed`);
    }
    const du = await run('du', ['-sk', prefix], { timeoutMs: 60_000 });
    t.diagnostic(`installed size (du -sk ${prefix}): ${du.stdout.split('\t')[0]} KiB`);

    // The installed command, with node on the PATH as on the machine (its shebang is env node).
    const las = join(prefix, 'bin', 'las');
    const env = cleanEnv({ PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter) });
    const version = await run(las, ['--version'], { env, timeoutMs: 30_000 });
    assert.equal(version.code, 0, show(version));
    assert.equal(version.stdout.trim(), manifest.version);

    const config = join(dir, 'las.json');
    await writeFile(config, JSON.stringify({
      interface: 'eth1',
      services: [{ name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp', scheduler: 'maglev', servers: [{ address: '10.0.0.11' }, { address: '10.0.0.12', weight: 2 }] }],
    }));
    const check = await run(las, ['check', config], { env, timeoutMs: 30_000 });
    assert.equal(check.code, 0, show(check));
    assert.match(check.stdout, /web/);
    const bad = await run(las, ['check', join(dir, 'missing.json')], { env, timeoutMs: 30_000 });
    assert.notEqual(bad.code, 0, show(bad));

    if (process.getuid?.() !== 0) {
      t.diagnostic('las demo skipped: it needs root (network namespaces)');
      return;
    }
    // The demo runs the installed daemon and servers (its own dist), not this checkout's.
    const demo = await run(las, ['demo', '--requests', '60'], { env, cwd: dir, timeoutMs: 300_000 });
    assert.equal(demo.code, 0, show(demo));
    assert.match(demo.stdout, /OK: all 60 requests answered by \d+ servers/, show(demo));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
