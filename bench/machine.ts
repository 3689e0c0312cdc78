// The machine the numbers come from, and the tools the suite needs on it.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { ensureCommand } from '../src/netns/ensure-package.js';
import { readCpuTimes, userHz } from './system.js';

export interface MachineInfo { cpuModel: string; cores: number; kernel: string; node: string; memoryBytes: number; hostname: string; hz: number }

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch { /* keep os.cpus() */ }
  let version = '';
  try { version = readFileSync('/proc/version', 'utf8').trim(); } catch { /* release alone */ }
  return {
    cpuModel,
    cores: os.cpus().length,
    kernel: version ? `${os.release()} (${version.replace(/^Linux version \S+\s*/, '').slice(0, 120)})` : os.release(),
    node: process.version,
    memoryBytes: os.totalmem(),
    hostname: os.hostname(),
    hz: userHz(),
  };
}

function exec(cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
      (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() }));
  });
}

export async function hasCommand(cmd: string): Promise<boolean> {
  return (await exec('sh', ['-c', `command -v ${cmd}`], 5000)).ok;
}

/**
 * nftables is not on a fresh Debian machine; the kernel balancer baseline needs it. As root with
 * apt-get the suite installs it (saying so); otherwise it reports what to install.
 */
export async function ensureNft(install: boolean, log: (message: string) => void): Promise<{ available: boolean; warning?: string }> {
  if (await hasCommand('nft')) return { available: true };
  const manual = 'install it (Debian/Ubuntu: apt-get install -y nftables) and run the suite again';
  if (!install) return { available: false, warning: `nft (nftables) is missing and --no-install was given: the kernel balancer baseline is skipped; ${manual}` };
  try {
    await ensureCommand('nft', 'nftables', { log });
    return { available: true };
  } catch (error) {
    return { available: false, warning: `${error instanceof Error ? error.message : String(error)}: the kernel balancer baseline is skipped` };
  }
}

/** Kernel pktgen: present when /proc/net/pktgen exists after `modprobe pktgen`. */
export async function pktgenInRootNs(): Promise<boolean> {
  if (existsSync('/proc/net/pktgen')) return true;
  if (await hasCommand('modprobe')) await exec('modprobe', ['pktgen'], 15_000);
  return existsSync('/proc/net/pktgen');
}

export async function checkPrerequisites(): Promise<string[]> {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push('the benchmark suite runs on Linux only');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('run it as root (sudo npm run bench): it creates network namespaces, raw sockets and tc/nft rules');
  }
  for (const tool of ['ip', 'tc']) if (!(await hasCommand(tool))) problems.push(`"${tool}" is missing: install iproute2`);
  return problems;
}

/**
 * How busy each CPU is while the suite does nothing (sampled over `ms`): anything else running on
 * the machine competes with the generator and the dispatchers and skews the numbers.
 */
export async function backgroundLoad(ms = 1000): Promise<Array<{ cpu: number; busyShare: number }>> {
  const a = await readCpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = await readCpuTimes();
  return [...b.entries()].map(([cpu, t]) => {
    const p = a.get(cpu) ?? { busy: 0, total: 0, softirq: 0 };
    const total = t.total - p.total;
    return { cpu, busyShare: total > 0 ? (t.busy - p.busy) / total : 0 };
  });
}

export interface CodeVersion { commit: string | null; dirty: boolean | null; addonBuiltAt: string | null; distBuiltAt: string | null }

/** The newest modification time of the compiled daemon (dist/src), which every LAS start runs. */
function newestMtime(dir: string): number {
  let newest = 0;
  let entries: import('node:fs').Dirent[] = [];
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (e.name.endsWith('.js')) try { newest = Math.max(newest, statSync(path).mtimeMs); } catch { /* removed meanwhile */ }
  }
  return newest;
}

/** The code under test: git commit (and uncommitted changes), and when the addon was built. */
export async function codeVersion(root: string): Promise<CodeVersion> {
  const head = await exec('git', ['-C', root, 'rev-parse', 'HEAD'], 5000);
  const status = await exec('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], 10_000);
  let addonBuiltAt: string | null = null;
  try { addonBuiltAt = statSync(join(root, 'build', 'Release', 'las_native.node')).mtime.toISOString(); } catch { /* not built */ }
  const dist = newestMtime(join(root, 'dist', 'src'));
  return {
    commit: head.ok ? head.output.trim() : null,
    dirty: status.ok ? status.output.trim().length > 0 : null,
    addonBuiltAt,
    distBuiltAt: dist > 0 ? new Date(dist).toISOString() : null,
  };
}
