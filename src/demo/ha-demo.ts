// `las demo --ha`: deployment B of issue 10 in namespaces. A BIRD 2 router spreads the VIP over
// three LAS dispatchers by ECMP; each dispatcher announces the VIP by BGP through its own BIRD.
// The demo holds long-lived connections open, kills one dispatcher with SIGKILL in the middle of
// them, measures how long the router took to withdraw its route, and checks that every connection
// still carries data afterwards. Everything is removed at the end, on failure and on Ctrl-C.
import { cleanupAll, exitSignal, installCleanupHandlers } from '../netns/cleanup.js';
import { runHttpClient, waitUntil } from './processes.js';
import { ECHO_PORT, withBgpLab, type Dispatcher } from './ha-lab.js';

const DISPATCHERS = 3;
const ROUTE_WAIT_MS = 30_000;
const say = (line: string) => process.stdout.write(`${line}\n`);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export interface HaDemoOptions { connections?: number; requests?: number }

export async function runHaDemo(options: HaDemoOptions = {}): Promise<number> {
  installCleanupHandlers();
  const connections = options.connections ?? 80;
  try {
    say(`creating namespaces: a BIRD 2 router, ${DISPATCHERS} LAS dispatchers, 3 servers, a client with 40 addresses…`);
    return await withBgpLab({ dispatchers: DISPATCHERS, clientAddresses: Math.min(40, connections) }, async ({ net, dispatchers, startStreams }) => {
      say(`  router    ${net.router.clientAddress} (clients) / ${net.router.segmentAddress} (segment), AS ${net.router.asn}, ECMP with fib_multipath_hash_policy=1  ${net.router.ns}`);
      for (const d of dispatchers) say(`  ${d.host.role.padEnd(9)} ${d.host.address.padEnd(11)} LAS + BIRD, ha.mode "bgp"  ${d.host.ns}`);
      for (const s of net.servers) say(`  ${s.name.padEnd(9)} ${s.address.padEnd(11)} VIP ${net.vip} on lo, replies via the router`);
      say('waiting for every dispatcher\'s BGP announcement…');
      const upMs = await net.waitForNextHops(net.dispatchers.map((d) => d.address), ROUTE_WAIT_MS);
      say(`  the router routes ${net.vip} via ${(await net.nextHops()).join(', ')} (after ${upMs} ms)`);

      const requests = options.requests ?? 300;
      const http = await runHttpClient(net.client.ns, { url: `http://${net.vip}/`, requests, sources: net.client.sources, concurrency: 10 });
      const web = await Promise.all(dispatchers.map(async (d) => (await d.newFlows()).web ?? 0));
      say(`${http.ok}/${requests} HTTP requests answered; new flows per dispatcher: ${dispatchers.map((d, i) => `${d.host.role} ${web[i]}`).join(', ')}`);

      const perSource = Math.ceil(connections / net.client.sources.length);
      const streams = await startStreams({ perSource, sources: Math.min(net.client.sources.length, connections) });
      const total = perSource * Math.min(net.client.sources.length, connections);
      const echo = await Promise.all(dispatchers.map(async (d) => (await d.newFlows()).echo ?? 0));
      say(`${total} long-lived connections to ${net.vip}:${ECHO_PORT} exchanging data; per dispatcher: ${dispatchers.map((d, i) => `${d.host.role} ${echo[i]}`).join(', ')}`);

      const [victim, ...survivors] = dispatchers as [Dispatcher, ...Dispatcher[]];
      const before = sum(echo.slice(1));
      say(`kill -9 ${victim.host.role} (pid ${victim.daemon().pid}) with ${echo[0]} of the connections…`);
      victim.daemon().child.kill('SIGKILL');
      const withdrawnMs = await net.waitForNextHops(survivors.map((d) => d.host.address), ROUTE_WAIT_MS);
      say(`  the router withdrew ${victim.host.address} ${withdrawnMs} ms after the kill (its BIRD died with LAS; the session closed)`);
      await waitUntil('the survivors pick up the connections', async () =>
        sum(await Promise.all(survivors.map(async (d) => (await d.newFlows()).echo ?? 0))) >= before + (echo[0] ?? 0), ROUTE_WAIT_MS);
      const report = await streams.stop();
      if (report.broken.length === 0 && report.survived === total) {
        say(`OK: all ${report.survived} connections survived (each one still echoed data after the kill); withdrawal took ${withdrawnMs} ms`);
        return 0;
      }
      say(`FAIL: ${report.broken.length} of ${report.connections} connections broke: ${JSON.stringify(report.broken.slice(0, 5))}`);
      return 1;
    });
  } catch (error) {
    if (!exitSignal()) say(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    if (!exitSignal()) say('removing namespaces…');
    await cleanupAll().catch((error: unknown) => say(`cleanup: ${String(error)}`));
  }
}
