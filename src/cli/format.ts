// Reading admin answers defensively (an older or newer daemon may add or lack fields) and printing
// them as aligned columns.
export type Obj = Record<string, unknown>;
export const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const count = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : '-');
export const text = (v: unknown, fallback = '?'): string => (typeof v === 'string' ? v : fallback);
export const nonZero = (v: unknown): boolean => count(v) !== '0' && count(v) !== '-';

/**
 * A count in human units, 3 significant digits with SI suffixes: 999, 1.23K, 45.6M; `exact` gives the
 * raw integer. A bigint or a decimal string (counters beyond 2^53) keeps its digits for `exact`.
 */
export function human(v: unknown, exact = false): string {
  const raw = count(v);
  if (exact || !/^\d+$/.test(raw)) return raw;
  const n = Number(raw);
  if (n < 1000) return raw;
  const units = ['K', 'M', 'G', 'T', 'P', 'E'];
  let scaled = n;
  let unit = -1;
  while (scaled >= 999.5 && unit < units.length - 1) {
    scaled /= 1000;
    unit++;
  }
  const digits = scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2;
  return `${scaled.toFixed(digits)}${units[unit]}`;
}

/** Renders rows as columns: numbers right-aligned, the text columns (by index) left-aligned. */
export function table(header: string[], rows: string[][], textColumns: number[] = [0]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (textColumns.includes(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** "1.2s", "3m04s", "2h05m": short durations for flow ages. */
export function duration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '-';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function endpoint(vip: unknown, port: unknown, protocol?: unknown): string {
  const p = count(port) === '0' ? '*' : count(port);
  const host = text(vip);
  return `${host.includes(':') ? `[${host}]` : host}:${p}${protocol === undefined ? '' : `/${text(protocol)}`}`; // [v6]:port
}
