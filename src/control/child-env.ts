// The environment of the tools LAS starts (ip, tc, sysctl, health-check shells).
// The sanitizer build of the addon only works with libasan/libubsan preloaded into node
// (LD_PRELOAD). Inherited by `ip` or `tc`, that preload instruments programs that were never built
// for it: LeakSanitizer reports their deliberate exit-time leaks and turns the exit status into a
// failure, and with log_path their reports would land in the daemon's sanitizer logs. So the
// sanitizer runtimes (and their options) stay in node and never reach a child.

const SANITIZER_RUNTIME = /(^|\/)lib(asan|ubsan|lsan|tsan|hwasan)[^/]*\.so/;
const SANITIZER_OPTIONS = ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'TSAN_OPTIONS'];

/** LD_PRELOAD entries (colon or space separated, as ld.so reads them) without the sanitizer runtimes. */
export function preloadWithoutSanitizers(preload: string): string {
  return preload.split(/[:\s]+/).filter((entry) => entry !== '' && !SANITIZER_RUNTIME.test(entry)).join(':');
}

/** True when `env` preloads a sanitizer runtime. */
export function preloadsSanitizer(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.LD_PRELOAD ?? '').split(/[:\s]+/).some((entry) => SANITIZER_RUNTIME.test(entry));
}

/** A copy of `env` for a child that is not built with the sanitizers; other preloads are kept. */
export function toolEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!preloadsSanitizer(env)) return env;
  const out: NodeJS.ProcessEnv = { ...env };
  const rest = preloadWithoutSanitizers(env.LD_PRELOAD ?? '');
  if (rest) out.LD_PRELOAD = rest;
  else delete out.LD_PRELOAD;
  for (const name of SANITIZER_OPTIONS) delete out[name];
  return out;
}
