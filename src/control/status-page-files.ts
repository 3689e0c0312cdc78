// The status page's static files (src/control/status-page/: plain HTML, CSS and a script, no build
// step, nothing from a CDN), read once when the listener starts and served from memory.
import { existsSync, readFileSync } from 'node:fs';

// The sources in a checkout (whether this runs from dist/ or src/), else the copy `npm run build`
// puts beside this module in dist/, which is what the package ships.
const CANDIDATES = ['../../../src/control/status-page/', './status-page/'].map((d) => new URL(d, import.meta.url));
export const PAGE_DIR = CANDIDATES.find((d) => existsSync(new URL('index.html', d))) ?? CANDIDATES[1]!;

const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', contentType: 'text/javascript; charset=utf-8' },
  '/page.css': { file: 'page.css', contentType: 'text/css; charset=utf-8' },
};

/** The page runs only its own files, and cannot be framed by another site. */
export const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

export interface PageFile { status: number; contentType: string; body: string }

/** URL path → file; a file that cannot be read is served as a 500 saying which one, not a crash. */
export function loadPageFiles(dir: URL = PAGE_DIR): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  for (const [path, { file, contentType }] of Object.entries(FILES)) {
    const url = new URL(file, dir);
    try {
      files.set(path, { status: 200, contentType, body: readFileSync(url, 'utf8') });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      files.set(path, { status: 500, contentType: 'text/plain', body: `las: the status page file ${url.pathname} is missing from this installation (${reason}); reinstall LAS\n` });
    }
  }
  return files;
}
