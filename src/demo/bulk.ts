// Bulk TCP uploads through the VIP, measured: a sink on the real servers (bulk-sink.ts) and an
// upload client in the client namespace (bulk-upload.ts), both plain Node `net` processes started
// inside namespaces, plus the offload switch (ethtool -K) that decides whether the client hands
// its veth 64 KB TCP super-frames (TSO/GSO on, the Linux default) or MTU-sized frames.
//
// The sink writes the byte count of every connection back to the client (8 bytes, big-endian) when
// the client has finished sending; in DR that reply goes straight from the server to the client.
// The client fails unless every stream's confirmed count equals what it sent.
import type { ChildProcess } from 'node:child_process';
import { spawnInNs } from '../netns/namespace.js';
import { ensureCommand } from '../netns/ensure-package.js';
import { runInNs } from '../netns/run.js';
import { distScript, OutputTail, stopProcess, waitUntil } from './processes.js';

export const BULK_PORT = 5201;

export interface BulkReceipt { bytes: number; seconds: number; remote: string }  // one per finished connection

export interface BulkSink {
  port: number;
  /** Every connection the sink has seen finish (the client's FIN), in order. */
  received(): Promise<BulkReceipt[]>;
  stop(): Promise<void>;
}

export interface UploadResult {
  bytes: number;
  seconds: number;
  gbps: number;
  /** TcpRetransSegs growth in the client namespace during the upload; null if unreadable. */
  retransmits: number | null;
}

export interface UploadOptions {
  host: string;
  port: number;
  bytes: number;
  source?: string;      // local address to bind
  timeoutMs?: number;   // whole upload, default 60 s + 1 s per 10 MB
  streams?: number;     // parallel connections, default 1; the bytes are split between them
}

/** What bulk-upload.js prints as its one JSON line. */
export interface UploadReport {
  bytes: number;
  seconds: number;
  gbps: number;
  streams: Array<{ local: string; bytes: number; confirmed: number; seconds: number }>;
}

/** The sink's stdout protocol: one JSON object per line. */
export type SinkLine =
  | { type: 'ready'; port: number }
  | ({ type: 'receipt' } & BulkReceipt)
  | { type: 'report'; id: number; receipts: BulkReceipt[] };

const READY_TIMEOUT_MS = 10_000;
const REPORT_TIMEOUT_MS = 5000;

/** Starts dist/src/demo/bulk-sink.js in a namespace (default 0.0.0.0:5201: uploads arrive for the VIP on lo). */
export async function startBulkSink(ns: string, opts: { port?: number; host?: string } = {}): Promise<BulkSink> {
  const args = [distScript('src/demo/bulk-sink.js'), '--port', String(opts.port ?? BULK_PORT), '--host', opts.host ?? '0.0.0.0'];
  // stdin is a pipe: report requests go in, and its end (our exit) makes the sink exit too.
  const child: ChildProcess = spawnInNs(ns, process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = new OutputTail(64 * 1024);
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  child.stdin?.on('error', () => undefined); // EPIPE after the sink exited: received() reports that instead
  let port: number | undefined;
  const receipts: BulkReceipt[] = [];
  const waiting = new Map<number, (receipts: BulkReceipt[]) => void>();
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let parsed: SinkLine;
      try { parsed = JSON.parse(line) as SinkLine; } catch { continue; }
      if (parsed.type === 'ready') port = parsed.port;
      else if (parsed.type === 'receipt') receipts.push({ bytes: parsed.bytes, seconds: parsed.seconds, remote: parsed.remote });
      else if (parsed.type === 'report') waiting.get(parsed.id)?.(parsed.receipts);
    }
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => { await stopProcess(child, 2000); };
  try {
    await waitUntil(`bulk sink in ${ns}`, () => port !== undefined, READY_TIMEOUT_MS, () =>
      running() ? undefined : `exited (${child.exitCode ?? child.signalCode}): ${String(stderr).trim()}`);
  } catch (error) {
    await stop();
    throw error;
  }
  let nextId = 1;
  return {
    port: port!,
    stop,
    // Asks the sink itself: its answer comes after every receipt line it printed before, so a
    // connection the client saw confirmed is never missing here.
    async received() {
      if (!running()) return [...receipts];
      const id = nextId++;
      let timer: NodeJS.Timeout | undefined;
      let onExit: (() => void) | undefined;
      try {
        return await new Promise<BulkReceipt[]>((resolve, reject) => {
          waiting.set(id, resolve);
          timer = setTimeout(() => reject(new Error(`bulk sink in ${ns} did not report within ${REPORT_TIMEOUT_MS} ms: ${String(stderr).trim()}`)), REPORT_TIMEOUT_MS);
          onExit = () => resolve([...receipts]);
          child.once('exit', onExit);
          child.stdin?.write(`report ${id}\n`);
        });
      } finally {
        clearTimeout(timer);
        if (onExit) child.off('exit', onExit);
        waiting.delete(id);
      }
    },
  };
}

/** Default whole-upload bound: generous for a slow path, never unbounded. */
function defaultUploadTimeoutMs(bytes: number): number {
  return 60_000 + Math.ceil(bytes / 10_000_000) * 1000;
}

/** Command-line arguments for dist/src/demo/bulk-upload.js. */
export function uploadArgv(opts: UploadOptions): string[] {
  const argv = ['--host', opts.host, '--port', String(opts.port), '--bytes', String(opts.bytes),
    '--timeout-ms', String(opts.timeoutMs ?? defaultUploadTimeoutMs(opts.bytes))];
  if (opts.source !== undefined) argv.push('--source', opts.source);
  if (opts.streams !== undefined) argv.push('--streams', String(opts.streams));
  return argv;
}

/** TcpRetransSegs of a namespace (/proc/net/snmp is per network namespace); null if unreadable. */
export async function tcpRetransSegs(ns: string): Promise<number | null> {
  try {
    const { stdout } = await runInNs(ns, 'cat', ['/proc/net/snmp'], { timeoutMs: 5000 });
    const rows = stdout.split('\n').filter((line) => line.startsWith('Tcp:')).map((line) => line.trim().split(/\s+/));
    const [names, values] = rows;
    const index = names?.indexOf('RetransSegs') ?? -1;
    const value = index > 0 ? Number(values?.[index]) : NaN;
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Runs bulk-upload.js in a namespace: `bytes` to host:port, and waits until the sink confirmed
 * every byte. Rejects with the client's own message on failure (timeout, stall, refused, short count).
 */
export async function runBulkUpload(ns: string, opts: UploadOptions): Promise<UploadResult> {
  if (!Number.isSafeInteger(opts.bytes) || opts.bytes < 1) throw new Error(`bytes must be a positive integer, got ${opts.bytes}`);
  const timeoutMs = opts.timeoutMs ?? defaultUploadTimeoutMs(opts.bytes);
  const before = await tcpRetransSegs(ns);
  // The client bounds itself; the outer timeout only guards a wedged process.
  const { stdout } = await runInNs(ns, process.execPath, [distScript('src/demo/bulk-upload.js'), ...uploadArgv({ ...opts, timeoutMs })], { timeoutMs: timeoutMs + 15_000 });
  const after = await tcpRetransSegs(ns);
  const line = stdout.trim().split('\n').pop() ?? '';
  let report: UploadReport;
  try {
    report = JSON.parse(line) as UploadReport;
  } catch {
    throw new Error(`bulk-upload printed no JSON result: ${stdout.trim() || '(nothing)'}`);
  }
  return {
    bytes: report.bytes,
    seconds: report.seconds,
    gbps: report.gbps,
    retransmits: before === null || after === null ? null : after - before,
  };
}

/** ethtool -K IF tso/gso/gro on|off (installs ethtool first if the machine lacks it). */
export async function setOffloads(ns: string, ifname: string, on: boolean): Promise<void> {
  await ensureCommand('ethtool', 'ethtool');
  const state = on ? 'on' : 'off';
  await runInNs(ns, 'ethtool', ['-K', ifname, 'tso', state, 'gso', state, 'gro', state], { timeoutMs: 10_000 });
}

/** "1.23 Gbit/s (200.0 MB in 1.30 s)" */
export function formatRate(result: Pick<UploadResult, 'bytes' | 'seconds' | 'gbps'>): string {
  return `${result.gbps.toFixed(2)} Gbit/s (${(result.bytes / 1e6).toFixed(1)} MB in ${result.seconds.toFixed(2)} s)`;
}
