// NDP for v6 VIPs against a real IPv6 stack: a client namespace's kernel learns the dispatcher's MAC
// for a VIP from LAS's unsolicited advertisement at start and when the VIP is added, resolves it
// through its own Neighbor Solicitation (the kernel checks the NA's checksum, hop limit and flags),
// loses a duplicate address probe for a VIP, and gets no answer for an address that is not a VIP.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { NativeSnapshot } from '../src/native/binding.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { addNamespace, addVethPair, deleteNamespace, setLinkUp, setSysctls, uniquePrefix } from '../src/netns/namespace.js';
import { needsRoot } from './support/needs-root.js';
import { runNamespaceChild } from './support/namespace-child.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./support/ndp-child.js', import.meta.url));
const CLIENT = '2001:db8:77::2';
const VIP1 = '2001:db8:77::100';
const VIP2 = '2001:db8:77::200';
const NOT_VIP = '2001:db8:77::77';
const service = (vip: string) => ({
  vip, port: 80, protocol: 'tcp' as const, flowKey: '5tuple' as const, scheduler: 'maglev' as const, maglevTableSize: 251,
  servers: [{ address: '2001:db8:77::11', mac: '02:00:00:00:77:11', weight: 1 }],
});

interface Neighbour { dst: string; lladdr?: string; state?: string[] }
interface Observed {
  mac: string; atStart?: Neighbour; vip2BeforeAdded?: string; whenAdded?: Neighbour; resolved?: Neighbour;
  advertsBefore: number; advertsAfterResolve: number; dad?: { dadfailed?: boolean }; advertsAfterDad: number;
  notVip?: Neighbour; notVipLater?: Neighbour; advertsAtEnd: number; drops: Record<string, string>[];
}

test('a client kernel learns v6 VIPs from LAS: unsolicited NA at start and on add, NS answered, DAD probe defended, other targets ignored', { timeout: 120_000, skip: needsRoot('network namespaces') }, async (t) => {
  const prefix = uniquePrefix('lasn');
  const disp = `${prefix}-disp`;
  const cli = `${prefix}-cli`;
  await addNamespace(disp);
  try {
    await addNamespace(cli);
    try {
      // No DAD delay for the client's own address; DAD on for the VIP it will try to take.
      await setSysctls(cli, { 'net.ipv6.conf.all.accept_dad': 1, 'net.ipv6.conf.default.accept_dad': 1 });
      await addVethPair({ name: 'lb0', ns: disp }, { name: 'cli0', ns: cli });
      await setLinkUp(disp, 'lb0');
      await setLinkUp(cli, 'cli0');
      await run('ip', ['-n', cli, 'addr', 'add', `${CLIENT}/64`, 'dev', 'cli0', 'nodad']);
      const snapshot1: NativeSnapshot = { services: [service(VIP1)] };
      const snapshot2: NativeSnapshot = { services: [service(VIP1), service(VIP2)] };
      const o = await runNamespaceChild<Observed>(disp, CHILD, {
        job: { ifname: 'lb0', clientNs: cli, clientIf: 'cli0', vip1: VIP1, vip2: VIP2, notVip: NOT_VIP, snapshot1, snapshot2 },
        timeoutMs: 100_000,
      });
      t.diagnostic(JSON.stringify(o));
      assert.equal(o.atStart?.lladdr?.toLowerCase(), o.mac, 'the NA at start overrode the client\'s stale entry for VIP1');
      assert.equal(o.vip2BeforeAdded, '02:00:00:00:0b:ad', 'VIP2 was not announced before it was a VIP');
      assert.equal(o.whenAdded?.lladdr?.toLowerCase(), o.mac, 'VIP2 announced when a snapshot added it');
      assert.ok(o.resolved?.state?.includes('REACHABLE'), `the client resolved VIP1 through its own NS: ${JSON.stringify(o.resolved)}`);
      assert.ok(o.advertsAfterResolve > o.advertsBefore, 'that NS was answered by the fast path');
      assert.equal(o.dad?.dadfailed, true, `the client's DAD probe for VIP2 was answered: ${JSON.stringify(o.dad)}`);
      assert.ok(o.advertsAfterDad > o.advertsAfterResolve);
      assert.ok(o.notVip, 'the client asked for the other address');
      assert.ok(!o.notVipLater?.lladdr, `nobody answered for ${NOT_VIP}: ${JSON.stringify(o.notVipLater)}`);
      assert.equal(o.advertsAtEnd, o.advertsAfterDad, 'no advertisement for an address that is not a VIP');
      assert.equal(o.drops[0]?.bad_ndp, '0', 'the kernel\'s solicitations are all well formed');
    } finally {
      await deleteNamespace(cli);
    }
  } finally {
    await deleteNamespace(disp);
  }
});
