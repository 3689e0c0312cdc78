// ha.mode "bgp" under deploy/las.service's privileges: the daemon runs as a non-root user with only
// the unit's capabilities (setpriv built from the unit, as in least-privilege.test.ts), starts its
// own BIRD, and that BIRD holds a real session with the router's BIRD in the lab's namespaces: it
// connects out to the router's port 179 and listens on ha.bgp.listenPort (1179), so it needs no
// CAP_NET_BIND_SERVICE, and LAS starts it with no capability at all. Before this, BIRD failed with
// "No listening socket" and nothing was announced.
import assert from 'node:assert/strict';
import { chown, readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { withBgpLab } from '../src/demo/ha-lab.js';
import { runHttpClient } from '../src/demo/processes.js';
import { runInNs } from '../src/netns/run.js';
import { needsRoot } from './support/needs-root.js';
import { readUnit, setprivCapabilityArgs } from './support/unit-file.js';

const UID = 65534;   // nobody
const GID = 65534;
const SETPRIV = ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', ...setprivCapabilityArgs(readUnit())];
const ROUTE_WAIT_MS = 30_000;   // above the 9 s hold timer

/** The pids of `pid`'s direct children (every thread's), e.g. the BIRD the daemon started. */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');   // a thread may have ended
    out.push(...text.trim().split(/\s+/).filter((s) => s !== '').map(Number));
  }
  return out;
}

test('bgp mode as a non-root user with the unit\'s capabilities: its BIRD peers with a real router, announces, forwards, and withdraws on SIGTERM', { timeout: 180_000, skip: needsRoot('network namespaces and setpriv (a non-root user holding capabilities)') }, async (t) => {
  await withBgpLab({ dispatchers: 2, start: false, daemonPrefix: SETPRIV }, async ({ net, dispatchers }) => {
    // As RuntimeDirectory= would: the user owns the directory of its admin socket (and of BIRD's files) and reads its config.
    await chown(dirname(dispatchers[0]!.configPath), UID, GID);
    for (const d of dispatchers) await chown(d.configPath, UID, GID);
    await Promise.all(dispatchers.map((d) => d.start()));
    await net.waitForNextHops(dispatchers.map((d) => d.host.address), ROUTE_WAIT_MS);

    const http = await runHttpClient(net.client.ns, { url: `http://${net.vip}/`, requests: 60, sources: net.client.sources, concurrency: 5 });
    assert.equal(http.ok, 60, JSON.stringify(http.errors));

    const d1 = dispatchers[0]!;
    const birds: number[] = [];
    for (const pid of await childrenOf(d1.daemon().pid!)) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (/^Name:\s*bird$/m.test(status)) birds.push(pid);
    }
    assert.equal(birds.length, 1, `one BIRD child of the daemon: ${JSON.stringify(birds)}`);
    const status = await readFile(`/proc/${birds[0]}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(status)?.[1]?.trim() ?? '';
    t.diagnostic(`BIRD: Uid ${field('Uid')} CapEff ${field('CapEff')} CapPrm ${field('CapPrm')} CapAmb ${field('CapAmb')}`);
    assert.match(field('Uid'), new RegExp(`^${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`));
    // None of the daemon's capabilities (CAP_NET_ADMIN is in its ambient set) reaches BIRD.
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.equal(BigInt(`0x${field(set)}`), 0n, `BIRD's ${set}: ${field(set)}`);

    // Its sockets: listening on 1179, not 179; its session to the router's 179 from an ephemeral port.
    const sockets = (await runInNs(d1.host.ns, 'ss', ['-Htanp'], { timeoutMs: 5000 })).stdout;
    const ofBird = sockets.split('\n').filter((l) => l.includes(`pid=${birds[0]},`));
    assert.ok(ofBird.some((l) => /^LISTEN\s.*:1179\s/.test(l)), sockets);
    assert.ok(!ofBird.some((l) => /^LISTEN\s.*:179\s/.test(l)), sockets);
    assert.ok(ofBird.some((l) => l.startsWith('ESTAB') && l.includes(`${net.router.segmentAddress}:179`)), sockets);

    // SIGTERM as that user's daemon: BIRD closes its session, the router withdraws d1.
    const exit = await d1.daemon().kill('SIGTERM');
    assert.equal(exit.code, 0, d1.daemon().output().stderr);
    await net.waitForNextHops([dispatchers[1]!.host.address], ROUTE_WAIT_MS);
  });
});
