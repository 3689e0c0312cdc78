// Admin verbs check their arguments: a malformed request is answered with an error that says what
// to send, and the daemon's code behind the verb is never reached with bad input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adminHandlers, type DaemonControl } from '../src/control/admin-verbs.js';

function fakeControl() {
  const calls: unknown[][] = [];
  const control: DaemonControl = {
    stats: () => (calls.push(['stats']), {}),
    status: () => (calls.push(['status']), {}),
    reload: async () => (calls.push(['reload']), { reloaded: true }),
    flows: async (service, limit) => (calls.push(['flows', service, limit]), { total: 0, flows: [] }),
    explain: async (tuples) => (calls.push(['explain', tuples]), { explanations: [] }),
    server: (action, service, address, weight) => (calls.push(['server', action, service, address, weight]), {}),
    trace: (args) => (calls.push(['trace', args]), {}),
    role: (role) => (calls.push(['role', role]), {}),
    drainDispatcher: async (drained) => (calls.push(['drainDispatcher', drained]), {}),
  };
  return { calls, handlers: adminHandlers(control) };
}

describe('admin verb arguments', () => {
  it('good requests reach the daemon', async () => {
    const { calls, handlers } = fakeControl();
    await handlers.flows!({});
    await handlers.flows!({ service: 'web', limit: 5 });
    await handlers.server!({ action: 'weight', service: 'web', address: '10.0.0.11', weight: 0 });
    await handlers.server!({ action: 'drain', service: 'web', address: '10.0.0.11' });
    await handlers.stats!({});
    await handlers.status!({});
    await handlers.reload!({});
    const tuple = { protocol: 'tcp', client: '198.51.100.7', clientPort: 40112, vip: '10.0.0.100', port: 80 };
    await handlers.explain!({ tuples: [tuple] });
    await handlers.role!({ role: 'active' });
    await handlers.role!({});
    assert.deepEqual(calls, [
      ['flows', undefined, 100], ['flows', 'web', 5],
      ['server', 'weight', 'web', '10.0.0.11', 0], ['server', 'drain', 'web', '10.0.0.11', undefined],
      ['stats'], ['status'], ['reload'], ['explain', [tuple]], ['role', 'active'], ['role', undefined],
    ]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['flows', [], /"args" must be an object/],
    ['role', { role: 'master' }, /"role" must be "active" or "standby"; got "master"/],
    ['role', { role: 'active', force: true }, /unknown argument "force"/],
    ['role', null, /"args" must be an object/],
    ['flows', { limit: 0 }, /"limit" must be an integer from 1 to 100000/],
    ['flows', { limit: '5' }, /"limit" must be an integer/],
    ['flows', { service: 7 }, /"service" must be a service name/],
    ['flows', { servce: 'web' }, /unknown argument "servce"/],
    ['server', null, /"args" must be an object/],
    ['server', { action: 'reboot', service: 'web', address: '10.0.0.11' }, /"action" must be "drain", "enable" or "weight"/],
    ['server', { action: 'drain', service: 'web', address: 'ten' }, /"address" must be a server's dotted IPv4 address/],
    ['server', { action: 'drain', address: '10.0.0.11' }, /"service" must be a service name/],
    ['server', { action: 'weight', service: 'web', address: '10.0.0.11' }, /"weight" must be an integer from 0 to 65535/],
    ['server', { action: 'weight', service: 'web', address: '10.0.0.11', weight: 70000 }, /"weight" must be an integer/],
    ['server', { action: 'enable', service: 'web', address: '10.0.0.11', weight: 3 }, /"weight" only goes with/],
    ['stats', { verbose: true }, /unknown argument "verbose"; expected no arguments: "stats" takes none/],
    ['stats', 'all', /"args" must be an object/],
    ['status', { service: 'web' }, /unknown argument "service"; expected no arguments: "status" takes none/],
    ['status', [1], /"args" must be an object/],
    ['reload', { path: '/etc/passwd' }, /unknown argument "path"; expected no arguments: "reload" takes none/],
    ['reload', null, /"args" must be an object/],
    ['explain', {}, /"tuples" must be an array of 1 to 500/],
    ['explain', { tuples: [] }, /"tuples" must be an array/],
    ['explain', { tuples: [{ protocol: 'sctp', client: '1.2.3.4', clientPort: 1, vip: '10.0.0.100', port: 80 }] }, /tuples\[0\]\.protocol must be "tcp" or "udp"/],
    ['explain', { tuples: [{ protocol: 'tcp', client: '1.2.3', clientPort: 1, vip: '10.0.0.100', port: 80 }] }, /tuples\[0\]\.client must be a dotted IPv4 address/],
    ['explain', { tuples: [{ protocol: 'tcp', client: '1.2.3.4', clientPort: 70000, vip: '10.0.0.100', port: 80 }] }, /tuples\[0\]\.clientPort must be a port number/],
    ['explain', { tuples: [], extra: 1 }, /unknown argument "extra"/],
  ];
  for (const [verb, args, message] of bad) {
    it(`${verb} ${JSON.stringify(args)} is refused`, async () => {
      const { calls, handlers } = fakeControl();
      await assert.rejects(async () => handlers[verb]!(args), message);
      assert.deepEqual(calls, []);
    });
  }
});
