// A dataplane whose start() fails half-way (a worker thread cannot be pinned: the CPU in `cpus`
// does not exist) closes every socket it opened, the gratuitous-ARP announce socket included, and
// says which worker and CPU. Run in a namespace of its own, on a veth pair, by a child process so
// that /proc/self/net/packet lists that namespace's sockets only.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addNamespace, addVethPair, deleteNamespace, setLinkUp, uniquePrefix } from '../src/netns/namespace.js';
import { runNamespaceChild } from './support/namespace-child.js';

const CHILD = fileURLToPath(new URL('./support/start-failure-child.js', import.meta.url));
const NO_SUCH_CPU = 1023;  // CPU_SETSIZE - 1
const isRoot = process.getuid?.() === 0;

test('a worker that cannot be pinned fails start() and leaves no packet socket open', { skip: isRoot ? false : 'needs root (namespaces, raw sockets)', timeout: 60_000 }, async () => {
  assert.ok(availableParallelism() <= NO_SUCH_CPU, 'this machine has a CPU numbered NO_SUCH_CPU: pick another');
  const ns = `${uniquePrefix('lass')}-pin`;
  await addNamespace(ns);
  try {
    await addVethPair({ name: 'sf0', ns }, { name: 'sf1', ns });
    await setLinkUp(ns, 'sf0');
    await setLinkUp(ns, 'sf1');
const r = await runNamespaceChild<{ before: number; afterFailure: number; error: string; restarted: boolean }>(ns, CHILD, { args: ['sf0', String(NO_SUCH_CPU)], timeoutMs: 50_000 });
    assert.match(r.error, new RegExp(`cannot pin worker 0 to CPU ${NO_SUCH_CPU}`));
    assert.equal(r.afterFailure, r.before, `packet sockets left open by the failed start: ${r.afterFailure - r.before}`);
    assert.ok(r.restarted, 'a dataplane on the same interface started afterwards (the check counts its sockets)');
  } finally {
    await deleteNamespace(ns);
  }
});
