// Writes the fuzz targets' seed corpus, test/fuzz-corpus/<target>/, from the golden frames and the
// golden snapshot, in the input formats native/fuzz/frame_target.cc and config_input.h read.
//   npm run build && node dist/bench/fuzz-seeds.js     (rewrites both directories)
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NativeServer, NativeService, NativeSnapshot } from '../src/native/binding.js';
import { repoRoot } from '../src/demo/processes.js';
import { SCHEDULERS } from '../src/native/contract.js';
import { GOLDEN_FIXTURES, GOLDEN_SNAPSHOT } from '../test/fixtures/golden-frames.js';
import { V6_FIXTURES } from '../test/fixtures/golden-frames-v6.js';
import { NDP_ROWS } from '../test/fixtures/golden-ndp.js';

export const CORPUS_DIR = join(repoRoot(), 'test', 'fuzz-corpus');
export const REGRESSION_PREFIX = 'regress-';

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

/**
 * Frame target inputs: [world][step][frame]. Each golden frame once in the golden world (main
 * snapshot, full table of live flows, worker 0, decided again at once) and once in another world
 * (table state, clock, worker and snapshot varied by row; decided again 61 s later, after a sweep).
 */
export function frameSeeds(): Map<string, Buffer> {
  const seeds = new Map<string, Buffer>();
  // The v6 rows after the v4 ones: the fuzz world holds both snapshots' services (frame_world.cc);
  // the NDP solicitations for those v6 VIPs last.
  [...GOLDEN_FIXTURES, ...V6_FIXTURES, ...NDP_ROWS].forEach((row, i) => {
    const name = `${String(i).padStart(3, '0')}-${slug(row.description)}`;
    seeds.set(`${name}.bin`, Buffer.concat([Buffer.from([0x00, 0x00]), row.input]));
    const world = ((i % 4) << 2) | (((i >> 2) % 4) << 4) | ((i % 3) << 6) | (i % 5 === 4 ? 2 : 0);
    seeds.set(`${name}-w${world.toString(16)}.bin`, Buffer.concat([Buffer.from([world, 0x80 | 61]), row.input]));
  });
  return seeds;
}

const lastOctet = (address: string) => Number(address.split('.')[3]);
const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];

function encodeServer(server: NativeServer): number[] {
  return [lastOctet(server.address), ...u16(server.weight), server.up === false ? 0 : 1];
}

/** One service in config_input.h's format (a VIP is 10.0.0.b and a server 10.0.1.b there). */
function encodeService(s: NativeService): number[] {
  const flags = (s.protocol === 'udp' ? 1 : 0) | (s.flowKey === '5tuple' ? 2 : 0) | (SCHEDULERS.indexOf(s.scheduler) << 2)
    | (s.onServerDown === 'keep' ? 0x20 : 0) | (s.sorryServer ? 0x40 : 0)
    | ([...s.servers, s.sorryServer].some((r) => r && r.weight > 15) ? 0x80 : 0);
  const out = [lastOctet(s.vip), ...u16(s.port), flags, ...u16(Math.min(s.maglevTableSize, 65535)), s.servers.length];
  for (const server of s.servers) out.push(...encodeServer(server));
  if (s.sorryServer) out.push(...encodeServer(s.sorryServer).slice(0, 3));
  return out;
}

/** Config target inputs: [services][service...][workers][per service: client, sport, dport, tag]. */
export function encodeSnapshot(snapshot: NativeSnapshot, workers: number): Buffer {
  const bytes = [snapshot.services.length, ...snapshot.services.flatMap(encodeService), workers - 1];
  snapshot.services.forEach((_, i) => bytes.push(10 + i, ...u16(40000 + i), ...u16(1000 + i), i % 2));
  return Buffer.from(bytes);
}

const server = (n: number, weight = 1, up = true): NativeServer => ({ address: `10.0.1.${n}`, mac: `02:00:00:00:01:0${n % 10}`, weight, up });
const svc = (vip: number, port: number, protocol: 'tcp' | 'udp', flowKey: 'addresses' | '5tuple', scheduler: NativeService['scheduler'],
  servers: NativeServer[], extra: Partial<NativeService> = {}): NativeService =>
  ({ vip: `10.0.0.${vip}`, port, protocol, flowKey, scheduler, maglevTableSize: 251, servers, ...extra });

export function configSeeds(): Map<string, Buffer> {
  const seeds = new Map<string, Buffer>();
  seeds.set('golden-snapshot.bin', encodeSnapshot(GOLDEN_SNAPSHOT, 2));
  // One VIP mixing flow keys with an all-ports service (the fanout program's hardest case).
  seeds.set('mixed-flow-keys.bin', encodeSnapshot({
    services: [
      svc(1, 80, 'tcp', 'addresses', 'wrr', [server(1), server(2), server(3)]),
      svc(1, 443, 'tcp', '5tuple', 'maglev', [server(1), server(2), server(3)]),
      svc(1, 53, 'udp', '5tuple', 'maglev', [server(1), server(2), server(3)]),
      svc(1, 0, 'udp', 'addresses', 'maglev', [server(1), server(2), server(3)]),
      svc(2, 0, 'tcp', '5tuple', 'maglev', [server(1), server(2), server(3)]),
      svc(3, 4789, 'udp', 'addresses', 'maglev', [server(1), server(2), server(3)]),
    ],
  }, 4));
  // Every scheduler with weights, down servers, a sorry server and "keep".
  seeds.set('schedulers.bin', encodeSnapshot({
    services: [
      svc(5, 80, 'tcp', '5tuple', 'sh', [server(1, 1), server(2, 2, false), server(3, 3)], { maglevTableSize: 1031 }),
      svc(5, 0, 'udp', 'addresses', 'wlc', [server(4, 1), server(5, 5)], { sorryServer: server(9) }),
      svc(5, 22, 'tcp', 'addresses', 'rr', [server(6, 1, false), server(7, 1)], { onServerDown: 'keep' }),
      svc(5, 8443, 'tcp', '5tuple', 'maglev', [server(1, 65535), server(8, 0), server(3, 2)], { sorryServer: server(9) }),
      svc(6, 443, 'tcp', '5tuple', 'wrr', [server(1, 65535), server(2, 1), server(3, 0)]),
    ],
  }, 3));
  return seeds;
}

async function writeCorpus(target: string, seeds: Map<string, Buffer>): Promise<void> {
  const dir = join(CORPUS_DIR, target);
  await mkdir(dir, { recursive: true });
  // regress-*: reproducers of past findings, kept by hand; everything else is regenerated.
  for (const old of await readdir(dir)) if (!old.startsWith(REGRESSION_PREFIX)) await rm(join(dir, old));
  for (const [name, bytes] of seeds) await writeFile(join(dir, name), bytes);
  process.stdout.write(`${dir}: ${seeds.size} seeds\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await writeCorpus('frame', frameSeeds());
  await writeCorpus('config', configSeeds());
}
