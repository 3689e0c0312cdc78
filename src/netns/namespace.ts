// Network namespaces, veth pairs, bridges, addresses and sysctls, driven through iproute2.
// Everything created here is recorded in registry.ts so cleanupAll() can remove it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { nsExec, run, runSync, runInNs } from './run.js';
import { trackNamespace, trackProcess, untrackNamespace } from './registry.js';

const IFNAMSIZ_MAX = 15; // the kernel rejects longer interface names

export interface VethEnd { name: string; ns: string }
export interface LinkInfo { ifname: string; ifindex: number; mac: string; operstate: string; mtu: number; flags: string[] }

/** `las-1a2b3c`: short so derived names stay readable, random so parallel runs never collide. */
export function uniquePrefix(base = 'las'): string {
  return `${base}-${randomBytes(3).toString('hex')}`;
}

function checkIfname(name: string): string {
  if (name.length === 0 || name.length > IFNAMSIZ_MAX || /[\s/:]/.test(name)) {
    throw new Error(`invalid interface name "${name}": 1..${IFNAMSIZ_MAX} characters, no spaces, "/" or ":"`);
  }
  return name;
}

export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  // Lines look like "name (id: 3)" or just "name".
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter((name) => name.length > 0);
}

/** Creates a namespace with its loopback up (nothing works on a down `lo`, not even 127.0.0.1). */
export async function addNamespace(name: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`invalid namespace name "${name}"`);
  await run('ip', ['netns', 'add', name]);
  trackNamespace(name); // tracked right away so a failure below still gets cleaned up
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

async function namespacePids(ns: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', ns], { timeoutMs: 10_000 });
    return parsePids(stdout);
  } catch {
    return []; // the namespace is already gone
  }
}

function parsePids(stdout: string): number[] {
  return stdout.split(/\s+/).map(Number).filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, signal); } catch { /* already exited */ }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const POLL_MS = 50;

/**
 * Kills every process in the namespace (SIGTERM, then SIGKILL after graceMs), then deletes it.
 * Why kill first: `ip netns del` only drops the name; a surviving process would keep the
 * namespace, its veths and any socket alive invisibly.
 */
export async function deleteNamespace(ns: string, graceMs = 2000): Promise<void> {
  let pids = await namespacePids(ns);
  signalAll(pids, 'SIGTERM');
  for (let waited = 0; pids.length > 0 && waited < graceMs; waited += POLL_MS) {
    await sleep(POLL_MS);
    pids = await namespacePids(ns);
  }
  for (let attempt = 0; pids.length > 0 && attempt < 40; attempt++) {
    signalAll(pids, 'SIGKILL');
    await sleep(POLL_MS);
    pids = await namespacePids(ns);
  }
  try {
    await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
  } catch (error) {
    if (!/No such file|does not exist/i.test(String(error))) throw error;
  }
  untrackNamespace(ns);
}

/** Same as deleteNamespace for 'exit' handlers, where only synchronous work still runs. */
export function deleteNamespaceSync(ns: string, graceMs = 1000): void {
  const pidsOf = (): number[] => {
    try { return parsePids(runSync('ip', ['netns', 'pids', ns])); } catch { return []; }
  };
  let pids = pidsOf();
  signalAll(pids, 'SIGTERM');
  for (let waited = 0; pids.length > 0 && waited < graceMs; waited += POLL_MS) {
    sleepSync(POLL_MS);
    pids = pidsOf();
  }
  for (let attempt = 0; pids.length > 0 && attempt < 40; attempt++) {
    signalAll(pids, 'SIGKILL');
    sleepSync(POLL_MS);
    pids = pidsOf();
  }
  try { runSync('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
  untrackNamespace(ns);
}

/** Creates a veth pair with each end born directly in its namespace (no name clash in the root ns). */
export async function addVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  checkIfname(a.name);
  checkIfname(b.name);
  await run('ip', ['link', 'add', a.name, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns]);
}

/** A plain learning bridge with STP off, so ports forward as soon as they are up. */
export async function addBridge(ns: string, name: string): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'add', checkIfname(name), 'type', 'bridge', 'stp_state', '0']);
}

export async function setMaster(ns: string, ifname: string, bridge: string): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'set', ifname, 'master', bridge]);
}

export async function setLinkUp(ns: string, ifname: string): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
}

/** cidr like "10.77.0.2/24"; `ip addr add` on `lo` with /32 is how a real server holds a VIP. */
export async function addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
  await run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', ifname]);
}

/** `ip route add DESTINATION via GATEWAY` ("default" or a CIDR): how a routed host reaches other subnets. */
export async function addRoute(ns: string, destination: string, gateway: string): Promise<void> {
  await run('ip', ['-n', ns, 'route', 'add', destination, 'via', gateway]);
}

/** Several sysctls in one exec; keys are dotted (interface names must not contain dots). */
export async function setSysctls(ns: string, values: Record<string, string | number>): Promise<void> {
  const assignments = Object.entries(values).map(([key, value]) => `${key}=${value}`);
  if (assignments.length > 0) await runInNs(ns, 'sysctl', ['-q', '-w', ...assignments]);
}

export async function linkInfo(ns: string, ifname: string): Promise<LinkInfo> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifname]);
  const [link] = JSON.parse(stdout) as Array<{ ifname: string; ifindex: number; address: string; operstate: string; mtu: number; flags: string[] }>;
  if (!link) throw new Error(`interface ${ifname} not found in namespace ${ns}`);
  return { ifname: link.ifname, ifindex: link.ifindex, mac: link.address, operstate: link.operstate, mtu: link.mtu, flags: link.flags };
}

/** Waits until the link has carrier (both veth ends up); bounded by timeoutMs. */
export async function waitForLinkUp(ns: string, ifname: string, timeoutMs = 5000): Promise<LinkInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await linkInfo(ns, ifname);
    if (info.operstate === 'UP' || (info.flags.includes('LOWER_UP') && info.flags.includes('UP'))) return info;
    if (Date.now() > deadline) throw new Error(`${ifname} in ${ns} not up after ${timeoutMs} ms (operstate ${info.operstate})`);
    await sleep(POLL_MS);
  }
}

/**
 * Starts a process inside the namespace. `ip netns exec` execs the command, so child.pid is
 * the command's own pid and signals reach it directly. Tracked for cleanupAll().
 * stdout/stderr are pipes by default: read them (or pass `stdio`), or a chatty child blocks.
 */
export function spawnInNs(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const exec = nsExec(ns, cmd, args, opts.env ?? process.env);
  const child = spawn('ip', exec.argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts, env: exec.env });
  trackProcess(child);
  return child;
}
