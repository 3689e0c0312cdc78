// kill -9 and a fresh start, 20 times in a row: each start works (the stale admin socket is
// cleared, the stale ingress drop replaced), and nothing stacks up: one clsact qdisc and one LAS
// filter on the interface, no packet socket or process of a killed daemon left in the namespace,
// the same number of open fds in every new daemon, nothing but the config and the socket in its
// directory.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const ROUNDS = 20;
const FD_SLACK = 4;   // sockets of health checks or a metrics scrape may come and go between reads

/** Packet sockets open in the dispatcher namespace (the kernel's own list, one line each). */
async function packetSockets(lab: DrLab): Promise<number> {
  const lines = (await lab.exec('dispatcher', 'cat', ['/proc/net/packet'])).stdout.trim().split('\n');
  return lines.length - 1;   // header
}

async function nsPids(lab: DrLab): Promise<string[]> {
  return (await lab.exec('switch', 'ip', ['netns', 'pids', lab.segment.dispatcher.ns])).stdout.split('\n').filter((l) => l.trim() !== '');
}

async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

test('kill -9 and restart 20 times: every start works and serves; no qdisc, filter, packet socket, process or fd stacks up', { timeout: 600_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withDrLab({ servers: 3 }, async (lab) => {
    const ifname = lab.segment.dispatcher.ifname;
    const sockets = await packetSockets(lab);
    const fds = await fdCount(lab.daemon().pid!);
    const seen: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const exit = await lab.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL', `round ${round}`);
      // The kernel closes a killed process's sockets with it; nothing of it stays in the namespace.
      await waitFor(`round ${round}: the killed daemon's packet sockets are gone`, async () => (await packetSockets(lab)) === 0, 10_000);
      assert.deepEqual(await nsPids(lab), [], `round ${round}: processes left in the dispatcher namespace`);
      assert.ok((await readdir(lab.dir)).includes('admin.sock'), `round ${round}: kill -9 leaves the socket file (the next start must clear it)`);

      const daemon = await lab.startDaemon();
      const result = await lab.runClient({ requests: 20, concurrency: 4, timeoutMs: 5000 });
      assert.equal(result.failed, 0, `round ${round}: ${JSON.stringify(result.errors)}`);
      assert.ok(await lab.stats(), `round ${round}: admin socket answers`);

      const qdiscs = (await lab.exec('dispatcher', 'tc', ['qdisc', 'show', 'dev', ifname])).stdout.split('\n').filter((l) => l.includes('clsact'));
      assert.equal(qdiscs.length, 1, `round ${round}: clsact qdiscs: ${qdiscs.join(' | ')}`);
      const filters = (await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', ifname, 'ingress'])).stdout.split('\n').filter((l) => l.includes('handle'));
      assert.equal(filters.length, 1, `round ${round}: ingress filters: ${filters.join(' | ')}`);
      assert.equal(await packetSockets(lab), sockets, `round ${round}: packet sockets in the namespace`);
      const nowFds = await fdCount(daemon.pid!);
      assert.ok(nowFds <= fds + FD_SLACK, `round ${round}: ${nowFds} fds open, the first daemon had ${fds}`);
      // Where lab.dir is on tmpfs the flow tables' files are there too (v4 and v6, one each per worker, fixed names).
      const files = (await readdir(lab.dir)).filter((f) => f !== `flows.${ifname}.0` && f !== `flows.${ifname}.v6.0`);
      assert.deepEqual(files.sort(), ['admin.sock', 'las.json'], `round ${round}: files beside the socket`);
      seen.push(`${nowFds}`);
    }
    t.diagnostic(`packet sockets per daemon: ${sockets}; fds of the first daemon: ${fds}; of each restart: ${seen.join(' ')}`);
  });
});
