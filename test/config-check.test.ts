// A broken config is refused with an error that names the field, both by the schema and by
// `las check`; a valid one is accepted with every default filled in.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/load.js';
import { checkRingSizes } from '../src/config/ring-check.js';
import { MIN_RX_BLOCK_SIZE, parseConfig } from '../src/config/schema.js';
import type { LasConfig } from '../src/config/types.js';
import { loadAddon } from '../src/native/binding.js';

// Compiled to dist/test/: the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/configs/', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Fixture -> what the output must contain: the field path, and words of the fix. */
const BROKEN: Record<string, { path: string; says: string }[]> = {
  'invalid-vip.json': [{ path: 'services[0].vip', says: 'is not a dotted IPv4 address' }],
  'invalid-mac.json': [{ path: 'services[0].servers[1].mac', says: 'leave "mac" out' }],
  'invalid-key-typo.json': [{ path: 'egresInterface', says: 'did you mean "egressInterface"?' }],
  'invalid-server-key-typo.json': [{ path: 'services[0].servers[0].wieght', says: 'did you mean "weight"?' }],
  'invalid-duplicate-name.json': [{ path: 'services[1].name', says: 'unique name' }],
  'invalid-vip-port-conflict.json': [{ path: 'services[1].port', says: 'already balanced by services[0]' }],
  'invalid-port0-conflict.json': [{ path: 'services[1].port', says: 'overlaps services[0]' }],
  'invalid-port-explicit-zero.json': [{ path: 'services[0].port', says: 'leave "port" out' }],
  'invalid-maglev-not-prime.json': [{ path: 'services[0].maglevTableSize', says: '65537' }],
  'invalid-maglev-too-small.json': [{ path: 'services[0].maglevTableSize', says: 'smaller than the number of servers' }],
  'invalid-weight.json': [{ path: 'services[0].servers[0].weight', says: 'from 0 to 65535' }],
  'invalid-cpus-length.json': [{ path: 'cpus', says: 'one CPU per worker' }],
  'invalid-empty-servers.json': [{ path: 'services[0].servers', says: 'at least one real server' }],
  'invalid-no-services.json': [{ path: 'services', says: 'at least one service' }],
  'invalid-json-syntax.json': [{ path: '', says: 'invalid JSON at line 4, column 94' }],
  'invalid-missing-interface.json': [{ path: 'interface', says: 'missing' }],
  'invalid-interface-name.json': [{ path: 'interface', says: 'not an interface name' }],
  'invalid-duplicate-server.json': [{ path: 'services[0].servers[1].address', says: 'already listed as servers[0]' }],
  'invalid-protocol.json': [{ path: 'services[0].protocol', says: 'did you mean "tcp"?' }],
  'invalid-ring.json': [{ path: 'ring.blockSize', says: 'must hold a 64 KiB GRO/TSO super-frame' }, { path: 'ring.frameSize', says: 'full-MTU frame' }],
  'invalid-health-type.json': [{ path: 'services[0].healthCheck.type', says: 'did you mean "http"?' }],
  'invalid-health-command-missing.json': [{ path: 'services[0].servers[1].healthCheck.command', says: 'a "command" check needs "command"' }],
  'invalid-health-port-all-ports.json': [{ path: 'services[0].healthCheck.port', says: 'needs "port"' }],
  'invalid-health-timeout.json': [{ path: 'services[0].healthCheck.timeout', says: 'longer than the interval' }],
  'invalid-health-status.json': [{ path: 'services[0].healthCheck.expectStatus', says: 'reversed' }],
  'invalid-health-key-typo.json': [{ path: 'services[0].healthCheck.intervall', says: 'did you mean "interval"?' }],
  'invalid-scheduler.json': [{ path: 'services[0].scheduler', says: '"wlc"' }],
  'invalid-on-server-down.json': [{ path: 'services[0].onServerDown', says: '"reschedule"' }],
  'invalid-sorry-server.json': [{ path: 'services[0].sorryServer.address', says: 'also servers[0]' }],
  'invalid-flow-timeouts.json': [{ path: 'flowTimeouts.udp', says: 'seconds (not milliseconds)' }, { path: 'flowTimeouts.tcpFinwait', says: 'did you mean "tcpFinWait"?' }],
  'invalid-metrics-listen.json': [{ path: 'metrics.listen', says: '"address:port"' }],
  'invalid-admin-socket-mode.json': [{ path: 'adminSocketMode', says: 'in octal as a string' }],
  'invalid-drain-timeout.json': [{ path: 'drainTimeout', says: 'seconds a server removed' }],
  'invalid-family-mix.json': [{ path: 'services[0].servers[1].address', says: 'a service is one family' }],
  // Every error is reported, not just the first.
  'invalid-many.json': [
    { path: 'workers', says: 'from 1 to 64' },
    { path: 'txMode', says: '"sendmmsg"' },
    { path: 'flowTable.capacity', says: 'from 1024' },
    { path: 'flowTable.idleTimeout', says: 'seconds' },
    { path: 'ring.blockSize', says: 'power of two' },
    { path: 'services[0].port', says: 'without quotes' },
    { path: 'services[0].flowKey', says: 'did you mean "5tuple"?' },
    { path: 'services[0].servers[0].address', says: 'no leading zeros' },
    { path: 'services[1].servers[0].address', says: 'missing' },
  ],
};

function las(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, output: run.stdout + run.stderr };
}

describe('broken configs', () => {
  it('every fixture is listed in the table', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.startsWith('invalid-')).sort();
    assert.deepEqual(files, Object.keys(BROKEN).sort());
    assert.ok(files.length >= 12);
  });

  for (const [file, expected] of Object.entries(BROKEN)) {
    describe(file, () => {
      it('is refused by the schema with the field path', async () => {
        const text = readFileSync(FIXTURES + file, 'utf8');
        let input: unknown;
        try {
          input = JSON.parse(text);
        } catch {
          input = undefined; // the syntax fixture: only loadConfigFile can judge it
        }
        const results = [await loadConfigFile(FIXTURES + file), ...(input === undefined ? [] : [parseConfig(input)])];
        for (const result of results) {
          assert.equal(result.ok, false);
          if (result.ok) return;
          for (const { path, says } of expected) {
            const hit = result.errors.find((e) => e.path === path && e.message.includes(says));
            assert.ok(hit, `expected an error at "${path}" saying "${says}", got ${JSON.stringify(result.errors, null, 1)}`);
          }
          if (expected.length === 1) assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
        }
      });

      it('makes `las check` exit 1 naming the field', () => {
        const run = las('check', FIXTURES + file);
        assert.equal(run.status, 1, run.output);
        for (const { path, says } of expected) {
          const prefix = path === '' ? `${FIXTURES + file}: ` : `${FIXTURES + file}: ${path}: `;
          assert.ok(run.output.split('\n').some((line) => line.startsWith(prefix) && line.includes(says)), `no "${prefix}...${says}" in:\n${run.output}`);
        }
        assert.doesNotMatch(run.output, /\bat .*\.js:\d+/); // no stack trace
      });
    });
  }

  it('a missing file is an error, not a crash', () => {
    const run = las('check', FIXTURES + 'no-such-file.json');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /no such file/);
  });

  it('a config that is not an object is refused at the top', () => {
    const result = parseConfig([1, 2]);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.errors[0]?.path === '' && /JSON object/.test(result.errors[0].message));
  });
});

describe('valid configs', () => {
  it('the example from the issue: exit 0, summary per service', () => {
    const file = FIXTURES + 'valid-example.json';
    const run = las('check', file);
    assert.equal(run.status, 0, run.output);
    assert.ok(run.stdout.startsWith(`${file}: ok\n`));
    assert.match(run.stdout, /web\s+10\.0\.0\.100:80\/tcp\s+maglev\(65537\)\s+flowKey=addresses\s+servers: 10\.0\.0\.11 w1, 10\.0\.0\.12 w2 02:00:00:00:00:12/);
  });

  it('--json prints the config with every default filled in', () => {
    const run = las('check', '--json', FIXTURES + 'valid-example.json');
    assert.equal(run.status, 0, run.output);
    const config = JSON.parse(run.stdout) as LasConfig;
    assert.equal(config.workers, 1);
    assert.deepEqual(config.cpus, []);
    assert.equal(config.txMode, 'auto');
    assert.equal(config.ingressDrop, 'tc');
    assert.equal(config.gratuitousArp, true);
    // The native idle sweep is the hard upper bound: by default the largest per-state timeout.
    assert.deepEqual(config.flowTable, { capacity: 1048576, idleTimeout: 900, persistDirectory: '/run/las' }); // the directory: the admin socket's
    assert.deepEqual(config.flowTimeouts, { tcpEstablished: 900, tcpSynRecv: 60, tcpFinWait: 120, tcpClose: 10, tcpLastAck: 30, udp: 300 });
    assert.equal(config.adminSocketMode, '0600');
    assert.deepEqual(config.metrics, { enabled: true, listen: '127.0.0.1:9477' });
    assert.equal(config.drainOnRemove, true);
    assert.equal(config.drainTimeout, 300);
    assert.deepEqual(config.ring, { blockSize: 1048576, blockCount: 32, frameSize: 'auto', retireTimeoutMs: 10 });
    assert.equal(config.neighbourRefresh, 5);
    assert.equal(config.adminSocket, '/run/las/admin.sock');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.services[0]?.maglevTableSize, 65537);
    assert.deepEqual(config.services[0]?.servers, [
      { address: '10.0.0.11', weight: 1 },
      { address: '10.0.0.12', mac: '02:00:00:00:00:12', weight: 2 },
    ]);
  });

  it('defaults of a minimal config: egressInterface, port, protocol, flowKey, scheduler', () => {
    const result = parseConfig({ interface: 'eth3', services: [{ name: 'any', vip: '10.1.0.1', servers: [{ address: '10.1.0.2' }] }] });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.config.egressInterface, 'eth3');
    assert.deepEqual(result.config.services[0], {
      name: 'any', vip: '10.1.0.1', port: 0, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65537,
      onServerDown: 'reschedule', servers: [{ address: '10.1.0.2', weight: 1 }],
    });
  });

  it('every key set: values kept, MAC lower-cased, same VIP and port on tcp and udp allowed', async () => {
    const result = await loadConfigFile(FIXTURES + 'valid-full.json');
    assert.ok(result.ok, JSON.stringify(result));
    const c = result.config;
    assert.equal(c.egressInterface, 'eth2');
    assert.deepEqual(c.cpus, [2, 3]);
    assert.deepEqual(c.ring, { blockSize: 262144, blockCount: 64, frameSize: 4096, retireTimeoutMs: 5 });
    assert.equal(c.services[0]?.scheduler, 'wrr');
    assert.equal(c.services[0]?.servers[1]?.weight, 0);
    assert.equal(c.services[2]?.port, 0);
    assert.equal(c.services[2]?.servers[0]?.mac, '02:ab:cd:00:00:31');
    assert.equal(las('check', FIXTURES + 'valid-full.json').status, 0);
  });
});

describe('control-plane keys', () => {
  it('adminSocketGroup: a name or a gid; the mode becomes 0660 unless set; anything else names the key', () => {
    const base = { interface: 'eth1', services: [{ name: 'web', vip: '10.0.0.100', servers: [{ address: '10.0.0.11' }] }] };
    const named = parseConfig({ ...base, adminSocketGroup: 'las-admin' });
    assert.ok(named.ok);
    assert.equal(named.config.adminSocketGroup, 'las-admin');
    assert.equal(named.config.adminSocketMode, '0660');
    const gid = parseConfig({ ...base, adminSocketGroup: 4243, adminSocketMode: '0640' });
    assert.ok(gid.ok);
    assert.equal(gid.config.adminSocketGroup, 4243);
    assert.equal(gid.config.adminSocketMode, '0640');
    const none = parseConfig(base);
    assert.ok(none.ok);
    assert.equal(none.config.adminSocketGroup, undefined);
    assert.equal(none.config.adminSocketMode, '0600');
    for (const bad of ['', 'two words', -1, 1.5, true, ['wheel']]) {
      const r = parseConfig({ ...base, adminSocketGroup: bad });
      assert.ok(!r.ok, JSON.stringify(bad));
      assert.equal(r.errors[0]?.path, 'adminSocketGroup');
      assert.match(r.errors[0]!.message, /is not a group; write a group name like "las-admin" or a numeric gid/);
    }
  });

  it('every new key set: health checks merge per server, timeouts, metrics, socket mode, drain', async () => {
    const result = await loadConfigFile(FIXTURES + 'valid-control.json');
    assert.ok(result.ok, JSON.stringify(result));
    const c = result.config;
    assert.deepEqual(c.flowTimeouts, { tcpEstablished: 600, tcpSynRecv: 30, tcpFinWait: 60, tcpClose: 5, tcpLastAck: 20, udp: 1200 });
    assert.equal(c.flowTable.idleTimeout, 1200); // the largest timeout
    assert.deepEqual(c.metrics, { enabled: true, listen: '0.0.0.0:9100' });
    assert.equal(c.adminSocketMode, '0660');
    assert.equal(c.drainOnRemove, false);
    assert.equal(c.drainTimeout, 60);
    const web = c.services[0]!;
    assert.equal(web.scheduler, 'wlc');
    assert.equal(web.onServerDown, 'keep');
    assert.deepEqual(web.sorryServer, { address: '10.0.0.99', mac: '02:00:00:00:00:99' });
    assert.deepEqual(web.healthCheck, { type: 'http', port: 80, path: '/health', expectStatus: [200, 299], interval: 1, timeout: 0.5, rise: 3, fall: 2, flapWindow: 60, flapThreshold: 4 });
    // Inherited as is; overridden key by key.
    assert.deepEqual(web.servers[0]?.healthCheck, web.healthCheck);
    assert.deepEqual(web.servers[1]?.healthCheck, { ...web.healthCheck, type: 'tcp', port: 8080 });
    assert.equal(web.servers[2]?.healthCheck?.type, 'command');
    assert.equal(web.servers[2]?.healthCheck?.command, '/usr/local/bin/check $LAS_SERVER');
    // No check anywhere: none resolved (the server is always up).
    assert.equal(c.services[1]?.healthCheck, undefined);
    assert.equal(c.services[1]?.servers[0]?.healthCheck, undefined);
    assert.equal(c.services[1]?.scheduler, 'sh');
    assert.equal(las('check', FIXTURES + 'valid-control.json').status, 0);
  });

  it('an explicit idleTimeout stays the bound even below a timeout', () => {
    const result = parseConfig({ interface: 'eth1', flowTable: { idleTimeout: 300 }, services: [{ name: 'a', vip: '10.1.0.1', servers: [{ address: '10.1.0.2' }] }] });
    assert.ok(result.ok);
    assert.equal(result.config.flowTable.idleTimeout, 300);
    assert.equal(result.config.flowTimeouts.tcpEstablished, 900);
  });

  it('flowTable.persistDirectory: the admin socket\'s directory by default, a path or false; anything else names the key', () => {
    const parse = (extra: Record<string, unknown>) => parseConfig({ interface: 'eth1', ...extra, services: [{ name: 'a', vip: '10.1.0.1', servers: [{ address: '10.1.0.2' }] }] });
    const dir = (extra: Record<string, unknown>) => {
      const result = parse(extra);
      assert.ok(result.ok, JSON.stringify(result));
      return result.config.flowTable.persistDirectory;
    };
    assert.equal(dir({ adminSocket: '/run/las-b/admin.sock' }), '/run/las-b');
    assert.equal(dir({ flowTable: { persistDirectory: '/dev/shm/las' } }), '/dev/shm/las');
    assert.equal(dir({ flowTable: { persistDirectory: false } }), false);
    for (const bad of [true, 'relative/dir', '']) {
      const result = parse({ flowTable: { persistDirectory: bad } });
      assert.ok(!result.ok);
      assert.match(JSON.stringify(result.errors), /flowTable\.persistDirectory.*neither an absolute directory path .* nor false/);
    }
  });
});

describe('ring sizes follow the interfaces', () => {
  const needs = (mtu: number) => loadAddon().ringNeeds(mtu);
  const config = (ring: Record<string, unknown>, egress = 'eth1'): LasConfig => {
    const result = parseConfig({ interface: 'eth0', egressInterface: egress, ring, services: [{ name: 'web', vip: '10.0.0.100', servers: [{ address: '10.0.0.11' }] }] });
    assert.ok(result.ok, JSON.stringify(result));
    return result.config;
  };

  it('the schema\'s smallest block is the one the fast path needs for a 64 KiB super-frame', () => {
    assert.equal(needs(1500).blockSize, MIN_RX_BLOCK_SIZE);
    assert.equal(needs(9000).blockSize, MIN_RX_BLOCK_SIZE);
    assert.equal(needs(131072).blockSize, 2 * MIN_RX_BLOCK_SIZE, 'a 128 KiB MTU needs the next power of two');
  });

  it('a TX slot too small for the egress MTU is refused, naming the field, the interface and the size needed', () => {
    const mtus: Record<string, number> = { eth0: 1500, eth1: 9000 };
    const errors = checkRingSizes(config({ frameSize: 2048 }), needs, (i) => mtus[i]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.path, 'ring.frameSize');
    assert.match(errors[0]!.message, new RegExp(`"eth1" \\(MTU 9000\\); use at least ${needs(9000).frameSize}`));
    assert.ok(needs(9000).frameSize > 9000 && needs(1500).frameSize <= 2048);
    assert.deepEqual(checkRingSizes(config({}), needs, (i) => mtus[i]), [], '"auto" sizes the slot from the MTU');
    assert.deepEqual(checkRingSizes(config({ frameSize: 2048 }, 'eth0'), needs, (i) => mtus[i]), [], '2048 holds an MTU-1500 frame');
    assert.deepEqual(checkRingSizes(config({ frameSize: 128 }), needs, () => undefined), [], 'interfaces not on this machine are not checked');
  });

  it('`las check` on the machine itself refuses a ring that cannot hold the interface\'s frames', () => {
    const dir = mkdtempSync(join(tmpdir(), 'las-ring-'));
    try {
      const file = join(dir, 'las.json');
      // lo exists in every network namespace, with an MTU of 64 KiB.
      writeFileSync(file, JSON.stringify({ interface: 'lo', ring: { blockSize: 131072, frameSize: 2048 }, services: [{ name: 'web', vip: '10.0.0.100', servers: [{ address: '10.0.0.11' }] }] }));
      const run = las('check', file);
      assert.equal(run.status, 1, run.output);
      const mtu = Number(readFileSync('/sys/class/net/lo/mtu', 'utf8'));
      assert.match(run.stderr, new RegExp(`ring\\.frameSize: 2048 cannot hold a full frame for "lo" \\(MTU ${mtu}\\); use at least ${needs(mtu).frameSize}`));
      if (needs(mtu).blockSize > 131072) assert.match(run.stderr, /ring\.blockSize: 131072 cannot hold the largest frame "lo" can deliver/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('las --help', () => {
  it('explains LAS and lists every subcommand with examples', () => {
    const run = las('--help');
    assert.equal(run.status, 0);
    for (const command of ['check', 'run', 'status', 'stats', 'flows', 'server', 'reload', 'demo']) assert.match(run.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(run.stdout, /arp_ignore=1/);
    assert.match(run.stdout, /arp_announce=2/);
    assert.match(run.stdout, /Examples:/);
  });

  it('each subcommand has examples', () => {
    for (const command of ['check', 'run', 'status', 'stats', 'flows', 'server', 'reload', 'demo']) {
      const run = las(command, '--help');
      assert.equal(run.status, 0, run.output);
      assert.match(run.stdout, /Examples:\n {2}.*las /, command);
    }
  });

  it('an error from a verb is one line "las: ...", exit 1', () => {
    const run = las('stats', '--socket', '/nonexistent/las.sock');
    assert.equal(run.status, 1);
    assert.equal(run.stderr, 'las: no las daemon is listening on /nonexistent/las.sock: is `las run` running? pass --socket or --config\n');
  });

  it('`las run` refuses an invalid config before starting anything', () => {
    const run = las('run', '-c', FIXTURES + 'invalid-vip.json');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /services\[0\]\.vip: "10\.0\.0\.256" is not a dotted IPv4 address/);
  });
});
