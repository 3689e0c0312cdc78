// IPv6 in the config: a service's vip and its servers may be IPv6, one family per service, families
// mixed across services. v6 addresses are kept in the canonical form `ip` prints (the neighbour
// table and duplicates compare that spelling); a server of the other family is refused naming the
// field and the fix.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canonicalIPv6, hostPort } from '../src/config/addresses.js';
import { loadConfigFile } from '../src/config/load.js';
import { parseConfig, type ConfigError } from '../src/config/schema.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/configs/', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

type Service = Record<string, unknown>;
const config = (...services: Service[]) => ({ interface: 'eth1', services });
const v6 = (servers: unknown[], extra: Service = {}): Service => ({ name: 'web6', vip: '2001:db8::100', port: 80, servers, ...extra });

function errorsOf(input: unknown): ConfigError[] {
  const result = parseConfig(input);
  assert.equal(result.ok, false, 'expected the config to be refused');
  return result.ok ? [] : result.errors;
}

function assertOneError(input: unknown, path: string, says: RegExp): void {
  const errors = errorsOf(input);
  assert.equal(errors.length, 1, JSON.stringify(errors, null, 1));
  assert.equal(errors[0]!.path, path);
  assert.match(errors[0]!.message, says);
}

describe('IPv6 services in the config', () => {
  it('a dual-stack config is valid; v6 addresses come out in canonical form', async () => {
    const result = await loadConfigFile(`${FIXTURES}valid-dual-stack.json`);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    const [web, web6] = result.config.services;
    assert.equal(web!.vip, '10.0.0.100');
    assert.equal(web6!.vip, '2001:db8::100');
    assert.deepEqual(web6!.servers.map((s) => s.address), ['2001:db8::11', '2001:db8::12']);
    assert.equal(web6!.sorryServer?.address, '2001:db8::99');
  });

  it('`las check` prints a v6 endpoint with brackets', () => {
    const run = spawnSync(process.execPath, [CLI, 'check', `${FIXTURES}valid-dual-stack.json`], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /web6\s+\[2001:db8::100\]:80\/tcp\s+maglev\(65537\)\s+flowKey=addresses\s+sorry=2001:db8::99\s+servers: 2001:db8::11 w1, 2001:db8::12 w1 02:00:00:00:00:12/);
    assert.match(run.stdout, /web\s+10\.0\.0\.100:80\/tcp/);
  });

  it('a server of the other family is refused, naming the field and the fix', () => {
    assertOneError(config(v6([{ address: '2001:db8::11' }, { address: '10.0.0.12' }])), 'services[0].servers[1].address',
      /10\.0\.0\.12 is IPv4 but the service's vip 2001:db8::100 is IPv6; a service is one family .*give this server's IPv6 address, or put it in a separate IPv4 service/);
    assertOneError(config({ name: 'web', vip: '10.0.0.100', servers: [{ address: '2001:db8::11' }] }), 'services[0].servers[0].address',
      /2001:db8::11 is IPv6 but the service's vip 10\.0\.0\.100 is IPv4/);
    assertOneError(config(v6([{ address: '2001:db8::11' }], { sorryServer: { address: '10.0.0.99' } })), 'services[0].sorryServer.address',
      /10\.0\.0\.99 is IPv4 but the service's vip 2001:db8::100 is IPv6; a service is one family: give the sorry server's IPv6 address/);
  });

  it('one server written in two spellings is a duplicate; so is a VIP:port', () => {
    assertOneError(config(v6([{ address: '2001:db8::11' }, { address: '2001:DB8:0:0:0:0:0:11' }])), 'services[0].servers[1].address',
      /2001:db8::11 is already listed as servers\[0\]/);
    assertOneError(config(v6([{ address: '2001:db8::11' }]), v6([{ address: '2001:db8::12' }], { name: 'other', vip: '2001:db8:0::100' })), 'services[1].port',
      /\[2001:db8::100\]:80\/tcp is already balanced by services\[0\] \("web6"\)/);
    assertOneError(config(v6([{ address: '2001:db8::100' }])), 'services[0].servers[0].address', /is the service's own VIP/);
  });

  it('a v4 and a v6 service may share a port and a name scheme; the families mix across services', () => {
    const result = parseConfig(config({ name: 'web', vip: '10.0.0.100', port: 80, servers: [{ address: '10.0.0.11' }] }, v6([{ address: 'fd00::11' }])));
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  });

  it('a v6 VIP counts toward the fanout program: the v6 part is added where the same v4 services fit', () => {
    // 1705 services of one VIP mixing flow keys: 3522 instructions for a v4 VIP, over 4096 for a v6 one.
    const services = (vip: string) => Array.from({ length: 1705 }, (_, i) => ({
      name: `s${i}`, vip, port: i + 1, flowKey: i % 2 ? '5tuple' : 'addresses', servers: [{ address: vip.includes(':') ? '2001:db8::11' : '10.0.0.11' }],
    }));
    assert.ok(parseConfig({ interface: 'eth1', workers: 2, services: services('10.0.0.100') }).ok);
    assertOneError({ interface: 'eth1', workers: 2, services: services('2001:db8::100') }, 'services', /need a fanout program of \d+ instructions .* more than the kernel's 4096/);
    assert.ok(parseConfig({ interface: 'eth1', workers: 1, services: services('2001:db8::100') }).ok, 'one worker needs no fanout program');
  });

  const refused: [string, RegExp][] = [
    ['2001:db8::1/64', /not an IPv6 address \(leave out the prefix length\)/],
    ['fe80::1%eth0', /not an IPv6 address \(leave out the zone/],
    ['[2001:db8::1]', /not an IPv6 address \(leave out the brackets\)/],
    ['2001:db8:::1', /not an IPv6 address; write it like "2001:db8::100"/],
    ['fe80::1', /link-local/],
    ['ff02::1', /multicast/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['::ffff:10.0.0.1', /IPv4-mapped .*write the dotted IPv4 address/],
  ];
  for (const [vip, says] of refused) {
    it(`vip ${JSON.stringify(vip)} is refused: ${says.source}`, () => {
      assertOneError(config(v6([{ address: '2001:db8::11' }], { vip })), 'services[0].vip', says);
    });
  }

  it('canonical form and [v6]:port, the helpers the rest of LAS prints with', () => {
    assert.equal(canonicalIPv6('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(canonicalIPv6('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1'); // the longest zero run
    assert.equal(canonicalIPv6('1:0:1:1:1:1:1:1'), '1:0:1:1:1:1:1:1');       // a single 0 is not compressed
    assert.equal(canonicalIPv6('10.0.0.1'), undefined);
    assert.equal(hostPort('2001:db8::1', 80), '[2001:db8::1]:80');
    assert.equal(hostPort('10.0.0.1', 80), '10.0.0.1:80');
  });
});
