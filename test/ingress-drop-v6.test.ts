// The ingress drop keeps the dispatcher's own kernel off v6 VIP traffic: a kernel that routes
// datagrams to the VIP (IPv6 forwarding on, an unreachable route for it) takes every one of them
// without the drop and none with it (Ip6InNoRoutes), while traffic to another address still passes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { addNamespace, addVethPair, deleteNamespace, setLinkUp, uniquePrefix } from '../src/netns/namespace.js';
import { needsRoot } from './support/needs-root.js';
import { runNamespaceChild } from './support/namespace-child.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./support/v6-ingress-drop-child.js', import.meta.url));

test('with the ingress drop the dispatcher kernel routes no v6 VIP datagram; without it, all', { timeout: 60_000, skip: needsRoot('network namespaces') }, async () => {
  const prefix = uniquePrefix('lasd');
  const disp = `${prefix}-disp`;
  const cli = `${prefix}-cli`;
  await addNamespace(disp);
  try {
    await addNamespace(cli);
    try {
      await addVethPair({ name: 'lb0', ns: disp }, { name: 'cli0', ns: cli });
      await setLinkUp(disp, 'lb0');
      await setLinkUp(cli, 'cli0');
      await run('ip', ['-n', cli, 'addr', 'add', '2001:db8:78::2/64', 'dev', 'cli0', 'nodad']);
      const o = await runNamespaceChild<{ withoutDrop: number; withDrop: number }>(disp, CHILD, {
        job: { ifname: 'lb0', clientNs: cli, clientIf: 'cli0', vip: '2001:db8:78::100', sentinel: '2001:db8:78::101' },
        timeoutMs: 50_000,
      });
      assert.ok(o.withoutDrop >= 20, `without the drop the kernel routed the VIP's datagrams (${o.withoutDrop})`);
      assert.equal(o.withDrop, 1, 'with the drop only the datagram to the other address reached the kernel');
    } finally {
      await deleteNamespace(cli);
    }
  } finally {
    await deleteNamespace(disp);
  }
});
