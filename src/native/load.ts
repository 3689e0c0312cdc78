// Finds and loads one of the two addons binding.gyp builds: las_native (the daemon's) or las_bench
// (the tools beside it). LAS_ADDON names the daemon's addon of another build (e.g. the sanitizer
// build, build-asan/Release/las_native.node); las_bench is then taken from the same directory, so
// one variable switches both.
import { createRequire } from 'node:module';
import path from 'node:path';

export type AddonName = 'las_native' | 'las_bench';

const require = createRequire(import.meta.url);

export function loadNodeAddon<T>(name: AddonName): T {
  const named = process.env.LAS_ADDON;
  if (named) {
    // Named explicitly: no quiet fallback to the release build.
    const file = path.resolve(name === 'las_native' ? named : path.join(path.dirname(named), `${name}.node`));
    try {
      return require(file) as T;
    } catch (error) {
      throw new Error(`cannot load the addon ${name} from the build LAS_ADDON names (${file}): ${String(error)}; build it (npm run build:native:asan) or unset LAS_ADDON`);
    }
  }
  // dist/src/native/ when compiled, src/native/ when run from the sources.
  const candidates = [`../../../build/Release/${name}.node`, `../../build/Release/${name}.node`];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      return require(candidate) as T;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot load the native addon ${name} (run "npm install" or "npm run build:native" to build it): ${String(lastError)}`);
}
