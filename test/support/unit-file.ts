// Reads deploy/las.service, so the tests run the daemon the way the unit does and cannot drift from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const UNIT_PATH = fileURLToPath(new URL('../../../deploy/las.service', import.meta.url));

/** section → key → every value the key was given, in order (systemd's unit syntax, without line continuations). */
export type UnitFile = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq <= 0) throw new Error(`unit line ${i + 1} is neither a [Section] nor Key=Value: ${raw}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

export function readUnit(path = UNIT_PATH): UnitFile {
  return parseUnit(readFileSync(path, 'utf8'));
}

/** The last value of [Service] KEY (the one systemd uses for a single-valued key); throws when absent. */
export function serviceValue(unit: UnitFile, key: string): string {
  const values = unit.get('Service')?.get(key);
  if (!values || values.length === 0) throw new Error(`deploy/las.service has no [Service] ${key}=`);
  return values[values.length - 1]!;
}

/** Capability names of a capability list key (AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN → ["net_raw", "net_admin"]). */
export function unitCapabilities(unit: UnitFile, key: 'AmbientCapabilities' | 'CapabilityBoundingSet'): string[] {
  return serviceValue(unit, key).split(/\s+/).filter((c) => c !== '').map((c) => {
    if (!/^CAP_[A-Z_]+$/.test(c)) throw new Error(`deploy/las.service ${key}: "${c}" is not a capability name (a "~" inversion is not supported here)`);
    return c.slice(4).toLowerCase();
  });
}

/** The setpriv arguments that give a process what the unit gives the daemon: its capabilities and NoNewPrivileges. */
export function setprivCapabilityArgs(unit: UnitFile): string[] {
  const ambient = unitCapabilities(unit, 'AmbientCapabilities');
  const bounding = unitCapabilities(unit, 'CapabilityBoundingSet');
  const list = (caps: string[]) => ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return [
    `--inh-caps=${list(ambient)}`, `--ambient-caps=${list(ambient)}`, `--bounding-set=${list(bounding)}`,
    ...(/^(yes|true|1|on)$/i.test(serviceValue(unit, 'NoNewPrivileges')) ? ['--no-new-privs'] : []),
  ];
}
