// A config file is untrusted input: duplicate keys, hostile characters, deep nesting, huge files
// and thousands of services each get a clear error (or a bounded check), never a stack trace and
// never a silent surprise. None of these needs root: `las run` refuses before touching anything.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, MAX_CONFIG_BYTES, parseConfigText } from '../src/config/load.js';
import { MAX_DEPTH, scanJson } from '../src/config/json-scan.js';
import { printable } from '../src/config/printable.js';
import { parseConfig } from '../src/config/schema.js';
import { MAX_VIPS, vipMatchProgram } from '../src/control/bpf-program.js';
import { bigConfig } from './support/big-config.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'las-untrusted-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(text: string): string {
  const path = join(dir, `c${files++}.json`);
  writeFileSync(path, text);
  return path;
}

function las(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, output: run.stdout + run.stderr };
}

const NO_STACK = /\bat .*\.js:\d+|RangeError|Maximum call stack/;
const service = (name: string, vip = '10.0.0.100') => ({ name, vip, servers: [{ address: '10.0.0.11' }] });

describe('duplicate keys', () => {
  it('a repeated top-level key is refused by check and run, naming both places', () => {
    const path = file('{\n  "interface": "eth0",\n  "interface": "eth9",\n  "services": [{"name": "web", "vip": "10.0.0.100", "servers": [{"address": "10.0.0.11"}]}]\n}\n');
    for (const args of [['check', path], ['run', '-c', path]]) {
      const run = las(...args);
      assert.equal(run.status, 1, run.output);
      assert.match(run.stderr, new RegExp(`^${path}: interface: duplicate key "interface" at line 3, column 3; it is already at line 2, column 3`, 'm'));
      assert.doesNotMatch(run.output, NO_STACK);
    }
  });

  it('the path of a nested duplicate names the list items; an escaped spelling is the same key', () => {
    const text = [
      '{"interface": "eth0", "services": [',
      '  {"name": "a", "vip": "10.0.0.100", "servers": [{"address": "10.0.0.11"}]},',
      '  {"name": "b", "vip": "10.0.0.101", "servers": [{"address": "10.0.0.11",',
      '                                                 "\\u0061ddress": "10.0.0.12"}]}',
      ']}',
    ].join('\n');
    const result = parseConfigText(text);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.errors, [{
      path: 'services[1].servers[0].address',
      message: 'duplicate key "address" at line 4, column 50; it is already at line 3, column 51 (JSON would silently keep only the last one): keep one of them',
    }]);
  });

  it('keys repeated in different objects are not duplicates', async () => {
    const result = parseConfigText(JSON.stringify({ interface: 'eth0', services: [service('a'), service('b', '10.0.0.101')] }));
    assert.ok(result.ok, JSON.stringify(result));
  });

  it('thousands of duplicates: the first 20 by place, then the count', () => {
    const keys = Array.from({ length: 5000 }, () => '"x": 1').join(', ');
    const result = parseConfigText(`{"interface": "eth0", "services": [], ${keys}}`);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.errors.filter((e) => /^duplicate key "x"/.test(e.message)).length, 20);
    assert.ok(result.errors.some((e) => e.message.startsWith('4999 duplicate keys in all')), JSON.stringify(result.errors.slice(-3)));
  });
});

describe('the scanner agrees with JSON.parse', () => {
  it('on 3 000 mutations of a real config: a syntax error exactly when JSON.parse throws', () => {
    const base = readFileSync(fileURLToPath(new URL('../../test/fixtures/configs/valid-full.json', import.meta.url)), 'utf8');
    let seed = 12345;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const pieces = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', 'a', '1', '-', '.', 'e', '0', 'true', 'nul', '\u0001', '\\u12', '//', "'"];
    const counts = { valid: 0, invalid: 0 };
    for (let n = 0; n < 3000; n++) {
      let text = base;
      for (let k = 1 + random(3); k > 0; k--) {
        const at = random(text.length + 1);
        const cut = random(3) === 0 ? 1 + random(4) : 0;
        text = text.slice(0, at) + (random(4) === 0 ? '' : pieces[random(pieces.length)]!) + text.slice(at + cut);
      }
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      const scan = scanJson(text);
      assert.equal(scan.syntax === undefined, parses, `${JSON.stringify(text)}: ${scan.syntax?.message}`);
      counts[parses ? 'valid' : 'invalid']++;
    }
    // Both sides of the property were exercised.
    assert.ok(counts.valid > 300 && counts.invalid > 300, JSON.stringify(counts));
  });
});

describe('control and bidi characters', () => {
  const RLO = '\u202e';

  it('`las check` quotes a hostile name and key escaped, never raw', () => {
    const path = file(JSON.stringify({ interface: 'eth0', services: [{ ...service(`web${RLO}gnp.exe`), [`port${RLO}\u0007`]: 80 }] }));
    const run = las('check', path);
    assert.equal(run.status, 1, run.output);
    assert.doesNotMatch(run.output, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u);
    assert.match(run.stderr, /services\[0\]\.name: "web\\u202Egnp\.exe" holds U\+202E \(a bidirectional control that reorders what is shown\) at character 4/);
    assert.match(run.stderr, /unknown key "port\\u202E\\u0007"/);
  });

  it('every string of a config is refused with such characters: interface, command, path', () => {
    const check = { type: 'command', command: `/bin/true\u2066` };
    const result = parseConfig({ interface: 'eth\u00850', services: [{ ...service('web'), healthCheck: check }] });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const at = (p: string) => result.errors.find((e) => e.path === p)?.message ?? '';
    assert.match(at('interface'), /holds U\+0085 \(a control character\)/);
    assert.match(at('services[0].healthCheck.command'), /"\/bin\/true\\u2066" holds U\+2066 \(a bidirectional control/);
    for (const e of result.errors) assert.equal(printable(e.message), e.message, 'already escaped');
  });

  it('printable() escapes C0, C1, bidi, invisible and astral format characters', () => {
    assert.equal(printable('a\u0000b\u001bc\u0085d\u061ce\u200ef\u202ag\u2069h\u2028i\u{e0041}j\ud800k'),
      'a\\u0000b\\u001Bc\\u0085d\\u061Ce\\u200Ef\\u202Ag\\u2069h\\u2028i\\u{E0041}j\\uD800k');
    assert.equal(printable('plain é ü 名前'), 'plain é ü 名前');
  });
});

describe('huge and deep files', () => {
  it(`100 000 levels of nesting: refused past ${MAX_DEPTH} levels with the place, by check and run`, () => {
    for (const text of ['['.repeat(100_000) + ']'.repeat(100_000), '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)]) {
      const path = file(text);
      for (const args of [['check', path], ['run', '-c', path]]) {
        const run = las(...args);
        assert.equal(run.status, 1, run.output.slice(0, 500));
        assert.match(run.stderr, new RegExp(`^${path}: line 1, column \\d+: nested deeper than ${MAX_DEPTH} levels`));
        assert.doesNotMatch(run.output, NO_STACK);
      }
    }
  });

  it('the scanner keeps its own stack: an unclosed 1 000 000-level file is a syntax error at the end', () => {
    // Past the depth limit the scan stops at once; below it, a deep but short file still scans.
    const deep = scanJson('['.repeat(1_000_000));
    assert.equal(deep.syntax?.tooDeep, true);
    const shallow = scanJson('['.repeat(MAX_DEPTH));
    assert.match(shallow.syntax?.message ?? '', /expected a value but found the end of the file/);
  });

  it('parseConfig on a deep object (not from a file) reports errors without recursing into it', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const result = parseConfig({ interface: 'eth0', services: [service('web')], extra: deep, services2: [deep] });
    assert.equal(result.ok, false);
  });

  it(`a file over ${MAX_CONFIG_BYTES} bytes is refused before it is read, naming the limit`, async () => {
    const path = join(dir, 'huge.json');
    writeFileSync(path, '');
    // A sparse file: the size is what matters, not the disk it takes.
    const { truncateSync } = await import('node:fs');
    truncateSync(path, MAX_CONFIG_BYTES + 1);
    const run = las('check', path);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `${path}: the config is ${MAX_CONFIG_BYTES + 1} bytes, over the limit of ${MAX_CONFIG_BYTES} bytes (32 MiB); a config of thousands of services is a few MB: is this the right file?\n`);
  });

  it('an endless stream (/dev/zero) is cut at the limit', async () => {
    const result = await loadConfigFile('/dev/zero');
    assert.equal(result.ok, false);
    assert.ok(!result.ok && /the config is more than \d+ bytes, over the limit/.test(result.errors[0]!.message));
  });
});

describe('many or huge mistakes', () => {
  it('100 000 unknown keys: the first 100 listed, all counted, in bounded work', () => {
    const config: Record<string, unknown> = { interface: 'eth0', services: [service('web')] };
    for (let i = 0; i < 100_000; i++) config[`k${i}`] = i;
    const run = las('check', file(JSON.stringify(config)));
    assert.equal(run.status, 1);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 101);
    assert.match(lines[0]!, /: k0: unknown key "k0" at the top level; remove it/);
    assert.match(lines[100]!, /: 100000 errors, the first 100 listed$/);
  });

  it('a 2 MB key or value is quoted shortened, and no typo table is built for it', () => {
    const key = 'k'.repeat(2_000_000);
    const result = parseConfig({ interface: 'e'.repeat(2_000_000), services: [service('web')], [key]: 1 });
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 2);
    for (const e of result.errors) assert.ok(e.path.length + e.message.length < 600, `${e.path.slice(0, 80)}: ${e.message.slice(0, 200)}`);
    assert.match(result.errors[1]!.message, /^unknown key "k{57}\.\.\." at the top level/);
  });
});

describe('thousands of services', () => {
  it('5 000 services x 10 servers: `las check` accepts them and lists each', () => {
    const path = file(JSON.stringify(bigConfig(5000, 10), null, 2));
    const run = las('check', path);
    assert.equal(run.status, 0, run.stderr.slice(0, 2000));
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 5001);
    assert.match(lines[5000]!, /^ {2}svc-4999 +10\.0\.99\.1:1049\/tcp +maglev\(65537\) +flowKey=5tuple +servers: 100\.19\.135\.10 w1 02:00:13:87:00:0a, /);
  });

  it('a reader that stops early (`las check big.json | head -1`) is not a crash', async () => {
    const path = file(JSON.stringify(bigConfig(2000, 10)));
    const child = spawn(process.execPath, [CLI, 'check', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await once(child.stdout, 'data');
    child.stdout.destroy(); // like head: read one chunk, close the pipe
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  it(`more distinct VIPs than the packet filter holds (${MAX_VIPS}) are refused by check, not by run`, () => {
    const vips = Array.from({ length: MAX_VIPS + 1 }, (_, i) => `10.1.${i}.1`);
    assert.ok(vipMatchProgram(vips.slice(0, MAX_VIPS), 1, 0).length > 0, 'the limit itself builds');
    assert.throws(() => vipMatchProgram(vips, 1, 0));
    const services = vips.map((vip, i) => service(`s${i}`, vip));
    assert.ok(parseConfig({ interface: 'eth0', services: services.slice(0, MAX_VIPS) }).ok);
    const result = parseConfig({ interface: 'eth0', services });
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map((e) => e.path), [`services[${MAX_VIPS}].vip`]);
    assert.match(result.errors[0]!.message, new RegExp(`at most ${MAX_VIPS} distinct VIPs`));
  });

  it('the fast path\'s 16-bit limit on servers per service is checked by the schema', () => {
    const servers = Array.from({ length: 0xffff }, (_, j) => ({ address: `11.${j >> 8}.${j & 255}.1` }));
    const result = parseConfig({ interface: 'eth0', services: [{ name: 'web', vip: '10.0.0.100', servers }] });
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map((e) => e.path), ['services[0].servers']);
    assert.match(result.errors[0]!.message, /more than 65534 servers/);
  });
});
