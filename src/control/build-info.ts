// Labels of las_build_info: which LAS, which Node and which addon a daemon runs, so a fleet's
// versions can be told apart in one query (`count by (version) (las_build_info)`).
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  version: string;   // package.json's version
  node: string;      // process.version
  napi: string;      // the N-API version this Node offers the addon
  addon: string;     // "release" (build/Release) or the LAS_ADDON path (e.g. the sanitizer build)
}

export function packageVersion(): string {
  // dist/src/control/*.js and src/control/*.ts sit at different depths below package.json.
  for (const up of ['../../../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next depth
    }
  }
  return 'unknown';
}

export function buildInfo(): BuildInfo {
  return {
    version: packageVersion(),
    node: process.version,
    napi: process.versions.napi ?? 'unknown',
    addon: process.env.LAS_ADDON ? process.env.LAS_ADDON : 'release',
  };
}
