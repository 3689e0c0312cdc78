// `las demo`: the LVS-DR segment in namespaces, three real HTTP servers, the LAS daemon in the
// dispatcher namespace, and a client sending requests to the VIP, then one bulk upload through it.
// Everything it creates is removed at the end, on failure, and on Ctrl-C/SIGTERM (installCleanupHandlers).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../control/admin-client.js';
import { cleanupAll, exitSignal, installCleanupHandlers, trackPath } from '../netns/cleanup.js';
import { createDrSegment, type DrSegment } from '../netns/lvs-dr.js';
import { createRoutedDr, isRoutedDr } from '../netns/routed-dr.js';
import type { BulkSink } from './bulk.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';
import { DEFAULT_UPLOAD_BYTES, demoUpload, startUploadSinks, UPLOAD_PORT, UPLOAD_SERVICE } from './demo-upload.js';
import { labConfig, writeLabConfig } from './lab-config.js';
import { runHttpClient, startRealServer, type ClientResult, type RealServer } from './processes.js';
import { routedTopologyLines } from './routed-demo.js';
import { hostPort } from '../config/addresses.js';

export interface DemoOptions {
  requests: number;
  keepGoing?: boolean;   // false: stop sending after the first failed request
  uploadBytes?: number;  // the bulk upload after the requests, default 100 MB
  routed?: boolean;      // the two-NIC routed layout (routed-dr.ts): clients on their own subnet, the dispatcher routes
  ipv6?: boolean;        // dual stack: a v6 service "web6" beside the v4 one, the requests sent to both VIPs
}

const SERVERS = 3;
const say = (line: string) => process.stdout.write(`${line}\n`);

export async function runDemo(options: DemoOptions): Promise<number> {
  installCleanupHandlers();
  let segment: DrSegment | undefined;
  let daemon: DaemonProcess | undefined;
  const servers: RealServer[] = [];
  let sinks = new Map<string, BulkSink>();
  try {
    const dir = await mkdtemp(join(tmpdir(), 'las-demo-'));
    trackPath(dir);

    say('creating namespaces…');
    segment = options.routed ? await createRoutedDr({ servers: SERVERS }) : await createDrSegment({ servers: SERVERS, ipv6: options.ipv6 === true });
    printTopology(segment);

    say(`starting ${SERVERS} real servers…`);
    servers.push(...(await Promise.all(segment.servers.map((server) => startRealServer(server.ns, server.name, { port: 80, ...(options.ipv6 ? { host: '::' } : {}) })))));
    sinks = await startUploadSinks(segment.servers);

    say('starting dispatcher…');
    const adminSocket = join(dir, 'admin.sock');
    const configPath = await writeLabConfig(dir, labConfig(segment, adminSocket, [{}, UPLOAD_SERVICE, ...(options.ipv6 ? [{ ipv6: true }] : [])]));
    daemon = await startDaemon({ ns: segment.dispatcher.ns, configPath, adminSocket });
    const nics = isRoutedDr(segment) ? `interface ${segment.dispatcher.ifname}, egressInterface ${segment.dispatcherEgress.ifname}` : `interface ${segment.dispatcher.ifname}`;
    say(`  las run --config ${configPath}  (pid ${daemon.pid}, ${nics} in ${segment.dispatcher.ns})`);

    const urls = [`http://${segment.vip}/`, ...(segment.vip6 !== undefined ? [`http://[${segment.vip6}]/`] : [])];
    const results: ClientResult[] = [];
    for (const url of urls) {
      say(`sending ${options.requests} requests to ${url} (a new TCP connection each)…`);
      const result = await runHttpClient(segment.client.ns, {
        url,
        requests: options.requests,
        concurrency: 10,
        timeoutMs: 2000,
        ...(options.keepGoing ? {} : { maxFailures: 1 }),
      });
      printResult(segment, result, url.includes('['));
      results.push(result);
    }
    const uploadBytes = options.uploadBytes ?? DEFAULT_UPLOAD_BYTES;
    say(`uploading ${(uploadBytes / 1e6).toFixed(0)} MB to ${segment.vip}:${UPLOAD_PORT} (one TCP connection, the client's default offloads)…`);
    const upload = await demoUpload(segment, sinks, uploadBytes);
    say(upload.line);
    say('');
    await printStats(adminSocket);

    let requestsOk = true;
    results.forEach((result, i) => {
      const answered = Object.values(result.byServer).filter((count) => count > 0).length;
      const ok = result.failed === 0 && result.ok === options.requests && answered >= 2;
      const over = i === 0 ? '' : ' over IPv6';
      if (!ok) {
        say(answered < 2 && result.failed === 0
          ? `FAIL: only ${answered} server(s) answered${over}; expected the requests to spread over at least 2`
          : `FAIL: ${result.failed} of ${options.requests} requests${over} got no answer`);
      } else {
        const replies = isRoutedDr(segment!) ? "replies routed back to the client by the dispatcher's kernel" : 'replies sent directly to the client';
        say(`OK: all ${result.ok} requests${over} answered by ${answered} servers, ${replies}`);
      }
      requestsOk &&= ok;
    });
    if (!upload.ok) say(upload.line);
    else say(`OK: the ${(uploadBytes / 1e6).toFixed(0)} MB upload arrived whole through the VIP`);
    if ((!requestsOk || !upload.ok) && !daemon.running()) say(`the daemon exited:\n${daemon.output().stderr.trim()}`);
    return requestsOk && upload.ok ? 0 : 1;
  } catch (error) {
    // After Ctrl-C the signal handler is already tearing things down; its fallout is not news.
    if (!exitSignal()) say(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    if (!exitSignal()) say('removing namespaces…');
    await daemon?.stop(5000);
    await Promise.all(servers.map((server) => server.stop()));
    await Promise.all([...sinks.values()].map((sink) => sink.stop()));
    await segment?.destroy().catch((error: unknown) => say(`cleanup: ${String(error)}`));
    await cleanupAll().catch((error: unknown) => say(`cleanup: ${String(error)}`)); // temp dir and anything left
  }
}

function printTopology(segment: DrSegment): void {
  if (isRoutedDr(segment)) {
    for (const line of routedTopologyLines(segment)) say(line);
    return;
  }
  const row = (role: string, ns: string, address: string, mac: string) => say(`  ${role.padEnd(11)} ${address.padEnd(12)} ${mac}  ${ns}`);
  row('client', segment.client.ns, segment.client.address, segment.client.mac);
  row('dispatcher', segment.dispatcher.ns, segment.dispatcher.address, segment.dispatcher.mac);
  for (const server of segment.servers) row(server.name, server.ns, `${server.address}`, server.mac);
  say(`  VIP ${segment.vip}: on lo of each server (ARP-silent), answered on the wire only by the dispatcher`);
  if (segment.vip6 !== undefined) {
    say(`  dual stack: each host also has ${segment.client.address6?.replace(/::.*/, '::')}<host number> (client ${segment.client.address6}, dispatcher ${segment.dispatcher.address6})`);
    say(`  VIP ${segment.vip6}: on lo of each server too (NDP answers only for addresses of the asking NIC), answered by the dispatcher's NA`);
  }
}

function printResult(segment: DrSegment, result: ClientResult, ipv6 = false): void {
  const total = Math.max(1, result.ok);
  say('');
  say('  server  address      answers  share');
  for (const server of segment.servers) {
    const count = result.byServer[server.name] ?? 0;
    const share = (100 * count) / total;
    say(`  ${server.name.padEnd(6)}  ${((ipv6 ? server.address6 : undefined) ?? server.address).padEnd(11)}  ${String(count).padStart(7)}  ${share.toFixed(1).padStart(5)}%  ${'#'.repeat(Math.round(share / 2))}`);
  }
  for (const [name, count] of Object.entries(result.byServer)) {
    if (!segment.servers.some((server) => server.name === name)) say(`  ${name.padEnd(6)}  ${''.padEnd(11)}  ${String(count).padStart(7)}`);
  }
  say(`  ok ${result.ok}, failed ${result.failed}${result.failed > 0 ? ` ${JSON.stringify(result.errors)}` : ''}, ${result.durationMs} ms`);
  say('');
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number => (typeof value === 'number' ? value : typeof value === 'string' ? Number(value) || 0 : 0);

/** Prints the daemon's counters; the shape is the daemon's, so anything unexpected is shown as JSON. */
async function printStats(adminSocket: string): Promise<void> {
  let stats: unknown;
  try {
    stats = await adminRequest(adminSocket, 'stats', {}, 3000);
  } catch (error) {
    say(`dispatcher stats unavailable: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  say('dispatcher stats:');
  const root = isObject(stats) && isObject(stats.dataplane) ? stats.dataplane : stats;
  const workers = isObject(root) && Array.isArray(root.workers) ? root.workers.filter(isObject) : [];
  const services = isObject(root) && Array.isArray(root.services) ? root.services.filter(isObject) : [];
  if (workers.length === 0 && services.length === 0) {
    say(JSON.stringify(stats, null, 2));
    return;
  }
  const sum = (key: string) => workers.reduce((total, worker) => total + num(worker[key]), 0);
  say(`  workers ${workers.length}: rx ${sum('rxPackets')} packets, tx ${sum('txPackets')} packets, ARP replies ${sum('arpReplies')}, tx errors ${sum('txErrors')}, active flows ${sum('flowsActive')}`);
  const syscalls = sum('txSyscalls');
  say(`  ${sum('gsoFrames')} TCP super-frames forwarded whole, ${syscalls > 0 ? (sum('txPackets') / syscalls).toFixed(1) : '0'} frames per send syscall`);
  const drops: Record<string, number> = {};
  for (const worker of workers) {
    if (isObject(worker.drops)) for (const [reason, count] of Object.entries(worker.drops)) drops[reason] = (drops[reason] ?? 0) + num(count);
  }
  const nonZero = Object.entries(drops).filter(([, count]) => count > 0);
  if (nonZero.length > 0) say(`  drops: ${nonZero.map(([reason, count]) => `${reason} ${count}`).join(', ')}`);
  for (const service of services) {
    say(`  service ${hostPort(String(service.vip), String(service.port))}/${String(service.protocol)}: ${num(service.packets)} packets, ${num(service.newFlows)} new flows, no server ${num(service.noServer)}`);
    const perServer = Array.isArray(service.servers) ? service.servers.filter(isObject) : [];
    for (const server of perServer) say(`    ${String(server.address).padEnd(12)} ${String(num(server.packets)).padStart(8)} packets ${String(num(server.newFlows)).padStart(6)} new flows`);
  }
}
