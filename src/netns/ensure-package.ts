// Tools that a fresh Debian machine lacks (ethtool, nftables...): installed on first use with
// apt-get, saying so, instead of failing half-way through a test or the demo.
import { execFile } from 'node:child_process';
import { toolEnv } from '../control/child-env.js';

export interface EnsureOptions {
  /** Where to say what is being installed; default stderr. */
  log?: (message: string) => void;
}

interface Outcome { ok: boolean; output: string }

function exec(cmd: string, args: string[], timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...toolEnv(), DEBIAN_FRONTEND: 'noninteractive' } },
      (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() }));
  });
}

/** True when `cmd` is on the PATH (sh's `command -v`; the name is passed as an argument, never as shell text). */
export async function hasCommand(cmd: string): Promise<boolean> {
  return (await exec('sh', ['-c', 'command -v "$1"', 'sh', cmd], 5000)).ok;
}

const tail = (text: string, lines: number) => text.split('\n').slice(-lines).join(' ').trim();

// Another apt-get (unattended upgrades, a parallel run) may hold the dpkg lock: wait for it, bounded.
const LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=120'];

let updated: Promise<void> | undefined;                 // `apt-get update` at most once per process
const installing = new Map<string, Promise<void>>();   // one install per package, shared by concurrent callers

function aptUpdate(log: (message: string) => void): Promise<void> {
  updated ??= exec('apt-get', [...LOCK_WAIT, 'update'], 300_000).then((result) => {
    // A stale or unreachable mirror may still leave usable package lists: try the install anyway.
    if (!result.ok) log(`apt-get update failed (trying the install anyway): ${tail(result.output, 3)}`);
  });
  return updated;
}

/**
 * Makes sure `cmd` exists, installing `debianPackage` with apt-get if it does not
 * (`apt-get update` once, then `apt-get install -y --no-install-recommends PKG`), and says so on
 * the log (stderr by default). Throws a message naming the package to install when it cannot.
 */
export async function ensureCommand(cmd: string, debianPackage: string, opts: EnsureOptions = {}): Promise<void> {
  if (await hasCommand(cmd)) return;
  await installPackage(`"${cmd}" is missing`, debianPackage, opts);
  if (!(await hasCommand(cmd))) throw new Error(`${debianPackage} was installed but "${cmd}" is still not on the PATH (${process.env.PATH ?? ''})`);
}

/**
 * The same for something that is not a command (a library, a runtime archive): `present` says
 * whether it is there; `what` names it in the messages.
 */
export async function ensurePackage(what: string, present: () => Promise<boolean>, debianPackage: string, opts: EnsureOptions = {}): Promise<void> {
  if (await present()) return;
  await installPackage(`${what} is missing`, debianPackage, opts);
  if (!(await present())) throw new Error(`${debianPackage} was installed but ${what} is still missing`);
}

async function installPackage(missing: string, debianPackage: string, opts: EnsureOptions): Promise<void> {
  const log = opts.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const manual = `install it (Debian/Ubuntu: apt-get install -y ${debianPackage})`;
  if (!(await hasCommand('apt-get'))) throw new Error(`${missing} and there is no apt-get to install it: ${manual}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error(`${missing} and installing it needs root: ${manual}`);
  let install = installing.get(debianPackage);
  if (!install) {
    install = (async () => {
      log(`${missing}: installing the Debian package ${debianPackage} (apt-get update && apt-get install -y --no-install-recommends ${debianPackage}) ...`);
      await aptUpdate(log);
      const result = await exec('apt-get', [...LOCK_WAIT, 'install', '-y', '--no-install-recommends', debianPackage], 600_000);
      if (!result.ok) throw new Error(`installing ${debianPackage} failed: ${tail(result.output, 2)}; ${manual}`);
      log(`${debianPackage} installed.`);
    })().finally(() => installing.delete(debianPackage));
    installing.set(debianPackage, install);
  }
  await install;
}
