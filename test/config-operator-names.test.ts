// Operators coming from ipvsadm, keepalived and HAProxy type the names they know. Each gets the LAS
// key or value, or is told LAS has no equivalent, instead of a typo guess that names something else
// ("mh", ipvsadm's Maglev, used to get "did you mean sh", a different scheduler).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../src/config/schema.js';

const SERVICE = { name: 'web', vip: '10.0.0.100', port: 80, servers: [{ address: '10.0.0.11' }] };
const BASE = { interface: 'eth1', services: [SERVICE] };

function errorsOf(config: unknown) {
  const result = parseConfig(config);
  assert.ok(!result.ok, 'accepted');
  return result.errors;
}

/** [what is written, where the error must be, words it must say, words it must not say]. */
const CASES: [string, unknown, string, RegExp, RegExp?][] = [
  ['scheduler "mh"', { ...BASE, services: [{ ...SERVICE, scheduler: 'mh' }] }, 'services[0].scheduler', /ipvsadm's Maglev hashing: write "maglev"/, /did you mean "sh"/],
  ['scheduler "lc"', { ...BASE, services: [{ ...SERVICE, scheduler: 'lc' }] }, 'services[0].scheduler', /"wlc" in LAS/],
  ['scheduler "dh"', { ...BASE, services: [{ ...SERVICE, scheduler: 'dh' }] }, 'services[0].scheduler', /LAS has no destination hashing/, /did you mean "sh"/],
  ['scheduler "sed"', { ...BASE, services: [{ ...SERVICE, scheduler: 'sed' }] }, 'services[0].scheduler', /LAS has no "sed"/],
  ['HAProxy "roundrobin"', { ...BASE, services: [{ ...SERVICE, scheduler: 'roundrobin' }] }, 'services[0].scheduler', /"wrr"/],
  ['HAProxy "leastconn"', { ...BASE, services: [{ ...SERVICE, scheduler: 'leastconn' }] }, 'services[0].scheduler', /"wlc"/],
  ['lb_algo', { ...BASE, services: [{ ...SERVICE, lb_algo: 'wrr' }] }, 'services[0].lb_algo', /lb_algo is "scheduler"/],
  ['lb_kind', { ...BASE, services: [{ ...SERVICE, lb_kind: 'DR' }] }, 'services[0].lb_kind', /always forwards by direct routing/],
  ['delay_loop', { ...BASE, services: [{ ...SERVICE, delay_loop: 6 }] }, 'services[0].delay_loop', /"healthCheck": \{ "interval"/],
  ['persistence_timeout', { ...BASE, services: [{ ...SERVICE, persistence_timeout: 300 }] }, 'services[0].persistence_timeout', /"flowKey": "addresses".*"flowTable": \{ "idleTimeout"/],
  ['connect_timeout', { ...BASE, services: [{ ...SERVICE, healthCheck: { connect_timeout: 3 } }] }, 'services[0].healthCheck.connect_timeout', /"timeout": seconds/],
  ['inhibit_on_failure', { ...BASE, services: [{ ...SERVICE, inhibit_on_failure: true }] }, 'services[0].inhibit_on_failure', /"onServerDown": "keep"/],
  ['quorum', { ...BASE, services: [{ ...SERVICE, quorum: 2 }] }, 'services[0].quorum', /LAS has no quorum/],
  ['sorry_server', { ...BASE, services: [{ ...SERVICE, sorry_server: '10.0.0.99 80' }] }, 'services[0].sorry_server', /"sorryServer"/],
  ['real_server', { ...BASE, services: [{ ...SERVICE, real_server: [] }] }, 'services[0].real_server', /"servers" list/],
  ['virtual_server', { ...BASE, virtual_server: {} }, 'virtual_server', /entry of "services"/],
  ['weight on a service', { ...BASE, services: [{ ...SERVICE, weight: 2 }] }, 'services[0].weight', /belongs in a server entry; move it there/],
  ['healthCheck type "HTTP_GET"', { ...BASE, services: [{ ...SERVICE, healthCheck: { type: 'HTTP_GET' } }] }, 'services[0].healthCheck.type', /HTTP_GET is "http"/],
  ['healthCheck type "SSL_GET"', { ...BASE, services: [{ ...SERVICE, healthCheck: { type: 'SSL_GET' } }] }, 'services[0].healthCheck.type', /plain HTTP only/],
  ['keepalived TCP_CHECK block', { ...BASE, services: [{ ...SERVICE, servers: [{ address: '10.0.0.11', TCP_CHECK: {} }] }] }, 'services[0].servers[0].TCP_CHECK', /"type": "tcp"/],
];

describe('ipvsadm, keepalived and HAProxy names', () => {
  for (const [name, config, path, says, never] of CASES) {
    it(`${name}: the LAS name, at ${path}`, () => {
      const errors = errorsOf(config);
      const error = errors.find((e) => e.path === path);
      assert.ok(error, JSON.stringify(errors));
      assert.match(error.message, says);
      if (never) assert.doesNotMatch(error.message, never);
    });
  }

  it('a real typo still gets the nearest LAS name', () => {
    const [error] = errorsOf({ ...BASE, services: [{ ...SERVICE, scheduler: 'maglve' }] });
    assert.match(error!.message, /did you mean "maglev"/);
  });
});

describe('"$schema"', () => {
  it('is accepted at the top level as a string and is not part of the resolved config', () => {
    const result = parseConfig({ $schema: './las.schema.json', ...BASE });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal('$schema' in result.config, false);
  });

  it('is refused when it is not a string, or inside a service', () => {
    assert.equal(errorsOf({ $schema: 1, ...BASE })[0]!.path, '$schema');
    const [error] = errorsOf({ ...BASE, services: [{ ...SERVICE, $schema: 'x' }] });
    assert.equal(error!.path, 'services[0].$schema');
    assert.match(error!.message, /belongs at the top level/);
  });
});
