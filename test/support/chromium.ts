// Headless Chromium for the tests that look at a page as a person would: Debian's `chromium`
// (installed on first use), run inside a network namespace (the daemon's page listens on that
// namespace's loopback) and driven by puppeteer-core over a pipe, so no debugging port is opened.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { ensureCommand } from '../../src/netns/ensure-package.js';

/**
 * Starts Chromium in namespace `ns`; `dir` holds its profile and the small launcher that enters the
 * namespace (puppeteer starts the browser itself and hands it the pipe on fds 3 and 4, which
 * `ip netns exec` keeps). Close the browser in a finally; the namespace's removal also ends it.
 */
export async function chromiumInNs(ns: string, dir: string): Promise<Browser> {
  await ensureCommand('chromium', 'chromium');
  const launcher = join(dir, 'chromium-in-ns');
  await writeFile(launcher, `#!/bin/sh\nexec ip netns exec '${ns}' chromium "$@"\n`, { mode: 0o755 });
  return puppeteer.launch({
    executablePath: launcher,
    pipe: true,
    headless: true,
    userDataDir: join(dir, 'chromium-profile'),
    // As root Chromium needs --no-sandbox; the test VM has no GPU.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    defaultViewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
}
