// The daemon on the ASan/UBSan build of the addon: building that addon (cmake-js, from the local
// Node headers), the environment that loads it, and the sanitizers' per-process log files.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../src/demo/processes.js';

export const ASAN_ADDON = 'build-asan/Release/las_native.node';

function exec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr || error.message).trim().slice(-4000)}`));
      else resolve(stdout);
    });
  });
}

/**
 * Node's headers for cmake-js: npm's nodedir when set (`npm run` passes it), else the prefix node is
 * installed under (/usr/bin/node -> /usr/include/node). Never a download: a test must not need the network.
 */
export function nodeHeadersDir(): string {
  const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))].filter((d): d is string => !!d);
  const found = candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
  if (!found) {
    throw new Error(`no Node headers in ${candidates.map((d) => join(d, 'include/node')).join(' or ')}: install them (Debian: apt-get install libnode-dev) or set npm_config_nodedir`);
  }
  return found;
}

/**
 * Builds (or brings up to date: cmake-js build is incremental) build-asan/Release/las_native.node,
 * the addon with -fsanitize=address,undefined. Returns its absolute path.
 */
export async function ensureAsanAddon(timeoutMs = 15 * 60_000): Promise<string> {
  const root = repoRoot();
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  await exec(process.execPath, [cmakeJs, 'build', '--CDLAS_SANITIZE=ON', '--out', 'build-asan', '--log-level', 'warn'], {
    cwd: root, env: { ...process.env, npm_config_nodedir: nodeHeadersDir() }, timeoutMs,
  });
  const addon = join(root, ASAN_ADDON);
  if (!existsSync(addon)) throw new Error(`cmake-js finished but ${addon} is missing`);
  return addon;
}

/** The sanitizer runtimes of the compiler that built the addon (gcc prints the bare name when it has none). */
export async function sanitizerRuntimes(): Promise<string[]> {
  const libs = await Promise.all(['libasan.so', 'libubsan.so'].map(async (lib) => (await exec('gcc', [`-print-file-name=${lib}`], { timeoutMs: 10_000 })).trim()));
  for (const lib of libs) {
    if (!lib.startsWith('/') || !existsSync(lib)) throw new Error(`gcc has no sanitizer runtime "${lib}" (Debian: apt-get install gcc, which brings libasan and libubsan)`);
  }
  return libs;
}

/**
 * The daemon's environment on the sanitizer addon. Reports go to <logDir>/asan.<pid> and
 * <logDir>/ubsan.<pid>, so a report from any process is kept even when stderr is not.
 *  - detect_leaks=0: node and V8 keep their allocations until exit on purpose; LeakSanitizer would
 *    report those at every exit. Leaks during the run show as RSS growth, which the flood measures.
 *  - quarantine_size_mb=16: ASan keeps freed memory out of reuse until this much is held, to catch
 *    use-after-free. At the default 256 MB the daemon's RSS climbs for minutes with any malloc churn
 *    (measured: +14 MiB after warm-up over a 35 s flood, still rising) and "flat" cannot be judged; at 16 MB it is
 *    flat from the start, and a use-after-free within the last 16 MB of frees is still caught.
 *  - halt_on_error=1 (UBSan): a report also kills the daemon, so it cannot go unnoticed.
 */
export async function sanitizerDaemonEnv(addon: string, logDir: string): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.LAS_ADDON = addon;
  env.LD_PRELOAD = (await sanitizerRuntimes()).join(':');
  env.ASAN_OPTIONS = `detect_leaks=0:quarantine_size_mb=16:halt_on_error=1:log_path=${join(logDir, 'asan')}`;
  env.UBSAN_OPTIONS = `halt_on_error=1:print_stacktrace=1:log_path=${join(logDir, 'ubsan')}`;
  return env;
}

/** The environment of helper processes next to such a daemon: the release addon, no preload. */
export function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['LAS_ADDON', 'LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS']) delete env[name];
  return env;
}

export interface SanitizerReport { file: string; text: string }

/** Every report file in logDir (asan.<pid>, ubsan.<pid>), with its text. */
export async function sanitizerReports(logDir: string): Promise<SanitizerReport[]> {
  const files = (await readdir(logDir).catch(() => [] as string[])).filter((f) => /^(asan|ubsan)\.\d+/.test(f)).sort();
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(join(logDir, file), 'utf8') })));
}

/** Proof that a running process really is on the sanitizer addon: both runtimes and the addon are mapped. */
export async function mappedSanitizerParts(pid: number, addon: string): Promise<{ asan: boolean; ubsan: boolean; addon: boolean }> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  return { asan: /\/libasan\.so/.test(maps), ubsan: /\/libubsan\.so/.test(maps), addon: maps.includes(addon) };
}
