// The adapter that makes BIRD 2 announce an AnnounceSet. LAS starts its own `bird -f` (a private
// config, control socket and no kernel protocol: it never touches the dispatcher's routing table)
// under `setpriv --pdeathsig KILL`, so the kernel kills BIRD the moment LAS dies, even by kill -9:
// its TCP sessions close and every router withdraws this dispatcher's routes at once. A dead
// machine is left to the BGP hold timer. A change of the set rewrites one include file and runs
// `birdc configure` (BIRD reconfigures the static protocol in place: the sessions stay up).
// BIRD opens its sessions itself (to the peer's port 179, from an ephemeral port) and listens only on
// ha.bgp.listenPort, 1179 by default: so it needs no capability at all (docs/ha.md).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BgpConfig } from '../../config/ha-bgp.js';
import type { AnnounceSet } from './announce-set.js';

export interface PeerState {
  peer: string;            // "10.81.0.1 (AS 65000)"
  address: string;
  state: string;           // BIRD's: "Established", "Active", "Connect", "Idle", ...
  established: boolean;
  info: string;            // the rest of BIRD's line: the last error, if any
}

const PROTOCOL = (i: number) => `las_peer${i + 1}`;
const CONTROL_TIMEOUT_MS = 5000;

function birdConfig(bgp: BgpConfig, routesFile: string): string {
  const keepalive = Math.max(1, Math.floor(bgp.holdTime / 3));
  const peers = bgp.peers.map((peer, i) => `
protocol bgp ${PROTOCOL(i)} {
  local ${bgp.localAddress} port ${bgp.listenPort} as ${bgp.localAsn};   # connects out to the peer's 179
  neighbor ${peer.address} as ${peer.asn};
  hold time ${bgp.holdTime}; keepalive time ${keepalive};
  connect delay time 1; connect retry time 2; error wait time 1, 10;
  graceful restart off;         # a closed session must withdraw at once, not keep stale routes
  ipv4 { import none; export where proto = "las_vips"; next hop self; };
}`).join('\n');
  return `# Written by LAS (ha.mode "bgp"); rewritten at every start.
router id ${bgp.localAddress};
protocol device { }
protocol static las_vips {
  ipv4;
  include "${routesFile}";
}
${peers}
`;
}

const routes = (set: AnnounceSet) => set.prefixes.map((p) => `route ${p} blackhole;\n`).join('');

export class BirdSpeaker {
  private child?: ChildProcess;
  private exited?: string;
  readonly configFile: string;
  readonly routesFile: string;
  readonly controlSocket: string;

  constructor(private readonly bgp: BgpConfig, private readonly dir: string, private readonly onExit: (why: string) => void) {
    this.configFile = join(dir, 'bird.conf');
    this.routesFile = join(dir, 'vips.conf');
    this.controlSocket = join(dir, 'bird.ctl');
  }

  /** Starts BIRD with `set` announced; throws (naming the missing program or BIRD's own error) if it cannot. */
  async start(set: AnnounceSet): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.writeRoutes(set);
    await writeFile(this.configFile, birdConfig(this.bgp, this.routesFile));
    // Above 1023 BIRD needs no capability: it gets none of the daemon's (CAP_NET_ADMIN, ambient).
    const dropCaps = this.bgp.listenPort >= 1024 ? ['--inh-caps=-all', '--ambient-caps=-all'] : [];
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', ...dropCaps, '--', this.bgp.speakerPath, '-f', '-c', this.configFile, '-s', this.controlSocket],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2000); });
    child.once('error', (error) => { this.exited = `setpriv could not start (${error.message}); it is in the Debian package util-linux`; });
    child.once('exit', (code, signal) => {
      const missing = code === 127 || /No such file|cannot execute|failed to execute/i.test(stderr);
      this.exited = missing
        ? `ha.bgp.speakerPath "${this.bgp.speakerPath}" cannot be run: install the Debian package bird2 or give the path of BIRD 2's "bird"`
        : `BIRD exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-2).join(' ')}` : ''}`;
      this.child = undefined;
      this.onExit(this.exited);
    });
    // Ready when its control socket answers; bounded.
    for (let attempt = 0; ; attempt++) {
      if (this.exited) throw new Error(this.exited);
      try {
        await this.control(['show', 'status']);
        return;
      } catch (error) {
        if (attempt >= 50) throw new Error(`BIRD did not answer on ${this.controlSocket} within 10 s: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Makes BIRD announce exactly `set` (withdrawing what left it); resolves once BIRD took the new routes. */
  async announce(set: AnnounceSet): Promise<void> {
    if (!this.child) throw new Error(this.exited ?? 'BIRD is not running');
    await this.writeRoutes(set);
    const out = await this.control(['configure']);
    if (!/Reconfigured|Reconfiguration in progress/.test(out)) throw new Error(`birdc configure: ${out.trim()}`);
  }

  async peers(): Promise<PeerState[]> {
    const out = await this.control(['show', 'protocols']);
    return this.bgp.peers.map((peer, i) => {
      // "las_peer1  BGP  ---  up  12:00:00.000  Established" or "... start ... Active  Socket: Connection refused"
      const line = out.split('\n').find((l) => l.startsWith(`${PROTOCOL(i)} `)) ?? '';
      const fields = line.trim().split(/\s+/);
      const rest = fields.slice(5);
      const state = rest[0] ?? 'unknown';
      return { peer: `${peer.address} (AS ${peer.asn})`, address: peer.address, state, established: state === 'Established', info: rest.slice(1).join(' ') };
    });
  }

  /** SIGTERM: BIRD closes its sessions with a Cease notification, the routers withdraw at once. */
  async stop(timeoutMs = 5000): Promise<void> {
    const child = this.child;
    if (child) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  private async writeRoutes(set: AnnounceSet): Promise<void> {
    const tmp = `${this.routesFile}.tmp`;
    await writeFile(tmp, routes(set));
    await rename(tmp, this.routesFile);
  }

  private control(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.bgp.controlPath, ['-s', this.controlSocket, ...args], { timeout: CONTROL_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${this.bgp.controlPath} ${args.join(' ')}: ${(stderr || stdout || error.message).trim()}`));
        else resolve(stdout);
      });
    });
  }
}
