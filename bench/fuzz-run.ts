// Builds and runs the libFuzzer targets of native/fuzz (shared by `npm run fuzz` and the test suite).
// The toolchain comes from Debian (clang-14, libclang-rt-14-dev for libFuzzer) and is installed on
// first use; cmake-js builds the targets into build-fuzz/ with the node-api headers it ships, so
// nothing is downloaded from nodejs.org.
import { execFile, spawn } from 'node:child_process';
import { access, mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { repoRoot } from '../src/demo/processes.js';
import { ensureCommand, ensurePackage, hasCommand } from '../src/netns/ensure-package.js';

export const FUZZ_TARGETS = ['frame', 'config'] as const;
export type FuzzTarget = (typeof FUZZ_TARGETS)[number];

export const FUZZ_BUILD_DIR = join(repoRoot(), 'build-fuzz');
export const SEED_DIR = join(repoRoot(), 'test', 'fuzz-corpus');
const CLANG = 'clang++-14';  // Debian 12's clang (package clang-14)
const MAX_FRAME = 2048;      // bytes per input: a 1500-byte MTU frame, its tags and the two world bytes

type Log = (message: string) => void;

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<string> {
  return new Promise((done, fail) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${cmd} ${args.join(' ')} failed: ${error.message}\n${`${stdout}${stderr}`.split('\n').slice(-30).join('\n')}`));
      else done(`${stdout}${stderr}`);
    });
  });
}

const exists = (path: string) => access(path).then(() => true, () => false);

/** clang-14, libFuzzer's runtime, cmake and a build tool: installed with apt-get when missing. */
export async function ensureFuzzToolchain(log: Log): Promise<void> {
  await ensureCommand(CLANG, 'clang-14', { log });
  await ensureCommand('cmake', 'cmake', { log });
  if (!(await hasCommand('ninja')) && !(await hasCommand('make'))) await ensureCommand('make', 'make', { log });
  const runtimeDir = (await run(CLANG, ['-print-runtime-dir'], { timeoutMs: 10_000 })).trim();
  const fuzzer = join(runtimeDir, 'libclang_rt.fuzzer-x86_64.a');
  await ensurePackage(`libFuzzer (${fuzzer})`, () => exists(fuzzer), 'libclang-rt-14-dev', { log });
}

/** Builds (incrementally) build-fuzz/fuzz_<target> for every target; returns the build directory. */
export async function buildFuzzTargets(log: Log): Promise<string> {
  await ensureFuzzToolchain(log);
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  log(`building the fuzz targets in ${FUZZ_BUILD_DIR} (cmake-js, ${CLANG}, LAS_FUZZ=ON) ...`);
  await run(process.execPath, [cmakeJs, 'build', '--CDLAS_FUZZ=ON', '--cxx', CLANG, '--out', FUZZ_BUILD_DIR], {
    cwd: repoRoot(), timeoutMs: 900_000,
  });
  return FUZZ_BUILD_DIR;
}

export interface FuzzProgress { execs: number; cov: number; ft: number; corpus: number; execPerSec: number }

export interface FuzzResult extends FuzzProgress {
  target: FuzzTarget;
  seconds: number;          // wall time of the run
  exitCode: number | null;
  findings: string[];       // reproducer files (crash-*, leak-*, timeout-*, oom-*)
  report: string;           // the sanitizer / libFuzzer report, when there is a finding
  command: string;          // how the run was started
}

export interface FuzzRunOptions {
  seconds: number;
  corpusDir: string;        // new inputs are written here; the seeds are only read
  findingsDir: string;
  onLine?: (line: string) => void;
}

// "#4096	pulse  cov: 826 ft: 957 corp: 43/144b lim: 53 exec/s: 2593 rss: 38Mb"
const STATUS = /^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)\/\S+.*?exec\/s: (\d+)/;

/** Runs one target for `seconds` on its seeds and corpus; a finding is any non-zero exit. */
export async function runFuzzTarget(target: FuzzTarget, opts: FuzzRunOptions): Promise<FuzzResult> {
  const binary = join(FUZZ_BUILD_DIR, `fuzz_${target}`);
  if (!(await exists(binary))) throw new Error(`${binary} is missing: build it first (buildFuzzTargets)`);
  const seeds = join(SEED_DIR, target);
  await mkdir(opts.corpusDir, { recursive: true });
  await mkdir(opts.findingsDir, { recursive: true });
  const prefix = `${resolve(opts.findingsDir)}/`;
  const before = new Set(await readdir(opts.findingsDir));
  const args = [
    `-max_total_time=${Math.max(1, Math.round(opts.seconds))}`, '-timeout=10', '-rss_limit_mb=2048', `-max_len=${MAX_FRAME}`,
    '-print_final_stats=1', `-artifact_prefix=${prefix}`, resolve(opts.corpusDir), seeds,
  ];
  // The sanitizers report to stderr and abort; a preloaded libasan from the caller would only get in the way.
  const env = { ...process.env, LD_PRELOAD: '', ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' };
  const started = Date.now();
  const progress: FuzzProgress = { execs: 0, cov: 0, ft: 0, corpus: 0, execPerSec: 0 };
  const tail: string[] = [];
  let finalExecs = -1, finalRate = -1;
  const exitCode = await new Promise<number | null>((done, fail) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // libFuzzer stops itself at max_total_time; this only guards against a hang of the harness.
    const guard = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 120) * 1000);
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = STATUS.exec(line);
        if (m) Object.assign(progress, { execs: +m[1]!, cov: +m[2]!, ft: +m[3]!, corpus: +m[4]!, execPerSec: +m[5]! });
        const stat = /^stat::(number_of_executed_units|average_exec_per_sec):\s+(\d+)/.exec(line);
        if (stat) (stat[1] === 'number_of_executed_units' ? (finalExecs = +stat[2]!) : (finalRate = +stat[2]!));
        tail.push(line);
        if (tail.length > 200) tail.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => { clearTimeout(guard); fail(err); });
    child.on('close', (code) => { clearTimeout(guard); done(code); });
  });
  if (finalExecs >= 0) progress.execs = finalExecs;
  if (finalRate >= 0) progress.execPerSec = finalRate;
  const findings = (await readdir(opts.findingsDir)).filter((f) => !before.has(f)).map((f) => join(opts.findingsDir, f));
  const failed = exitCode !== 0 || findings.length > 0;
  const reportStart = tail.findIndex((l) => /ERROR|invariant broken|runtime error|deadly signal|Test unit written/.test(l));
  return {
    target, ...progress, seconds: (Date.now() - started) / 1000, exitCode, findings,
    report: failed ? tail.slice(Math.max(0, reportStart)).join('\n') : '',
    command: [binary, ...args].join(' '),
  };
}

export function describeResult(r: FuzzResult): string {
  const head = `${r.target}: ${r.execs} runs in ${r.seconds.toFixed(0)} s (${r.execPerSec} exec/s), cov ${r.cov} edges, ft ${r.ft}, corpus ${r.corpus}`;
  if (r.exitCode === 0 && r.findings.length === 0) return `${head}, no findings`;
  const repro = r.findings.map((f) => `  reproduce: ${join(FUZZ_BUILD_DIR, `fuzz_${r.target}`)} ${f}`).join('\n');
  return `${head}\nFINDING (exit ${r.exitCode}):\n${repro || '  (no reproducer file written)'}\n${r.report}`;
}
