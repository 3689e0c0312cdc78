// SVG charts written next to results.json: vega-lite specs compiled to vega, rendered headless.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { BULK_PATH_LABELS, BULK_PATHS } from './bulk.js';
import { DISPATCHER_LABELS, type DispatcherId } from './dispatchers.js';
import type { BenchResults } from './results.js';

const ORDER: DispatcherId[] = ['kernel-fwd', 'nft-lb', 'las-pt', 'las-full'];
const label = (id: DispatcherId) => DISPATCHER_LABELS[id];
const colour = { field: 'dispatcher', type: 'nominal', title: 'dispatcher', sort: ORDER.map(label), legend: { labelLimit: 400 } } as const;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Delivered vs offered rate: every RFC 2544 trial and every headline blast, with the y = x line. */
export function deliveredVsOfferedSpec(results: BenchResults): TopLevelSpec | undefined {
  const points: Array<{ dispatcher: string; offered: number; delivered: number; source: string }> = [];
  for (const [id, r] of Object.entries(results.search?.perDispatcher ?? {})) {
    if (!r || 'error' in r) continue;
    for (const t of r.trials) points.push({ dispatcher: label(id as DispatcherId), offered: t.offeredPps / 1e6, delivered: t.deliveredPps / 1e6, source: 'RFC 2544 trial' });
  }
  for (const s of results.scenarios.filter((x) => x.headline)) {
    for (const round of s.rounds) {
      for (const [id, t] of Object.entries(round.trials)) {
        if (t) points.push({ dispatcher: label(id as DispatcherId), offered: t.offeredPps / 1e6, delivered: t.deliveredPps / 1e6, source: 'full-rate blast' });
      }
    }
  }
  if (points.length === 0) return undefined;
  const top = Math.max(...points.map((p) => Math.max(p.offered, p.delivered))) * 1.05;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Delivered vs offered rate', subtitle: results.scenarios.find((s) => s.headline)?.title ?? results.search?.scenario ?? '' },
    width: 520,
    height: 360,
    layer: [
      {
        data: { values: [{ x: 0, y: 0 }, { x: top, y: top }] },
        mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'offered', type: 'quantitative', title: 'offered (Mpps)', scale: { domain: [0, top] } },
          y: { field: 'delivered', type: 'quantitative', title: 'delivered at the servers (Mpps)', scale: { domain: [0, top] } },
          color: colour,
          shape: { field: 'source', type: 'nominal', title: '' },
          tooltip: [{ field: 'dispatcher' }, { field: 'offered', format: '.3f' }, { field: 'delivered', format: '.3f' }],
        },
      },
    ],
  } as TopLevelSpec;
}

/** Share of the frames each server received, per scenario, for the two balancers (all rounds summed). */
export function spreadSpec(results: BenchResults): TopLevelSpec | undefined {
  const values: Array<{ scenario: string; dispatcher: string; server: string; share: number }> = [];
  for (const s of results.scenarios) {
    for (const id of ['nft-lb', 'las-full'] as const) {
      const totals = new Map<string, number>();
      for (const round of s.rounds) for (const p of round.trials[id]?.perServer ?? []) totals.set(p.name, (totals.get(p.name) ?? 0) + p.packets);
      const sum = [...totals.values()].reduce((a, b) => a + b, 0);
      if (sum === 0) continue;
      for (const [server, n] of totals) values.push({ scenario: s.id, dispatcher: label(id), server, share: n / sum });
    }
  }
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Per-server spread', subtitle: 'share of delivered frames per server (0.25 each with four equal weights)' },
    data: { values },
    facet: { column: { field: 'scenario', type: 'nominal', title: null, header: { labelAngle: -30, labelAlign: 'right' } } },
    spec: {
      width: 90,
      height: 220,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'server', type: 'nominal', title: null },
            xOffset: { field: 'dispatcher', sort: ['nft-lb', 'las-full'].map((id) => label(id as DispatcherId)) },
            y: { field: 'share', type: 'quantitative', title: 'share', axis: { format: '.0%' } },
            color: colour,
            tooltip: [{ field: 'dispatcher' }, { field: 'server' }, { field: 'share', format: '.2%' }],
          },
        },
        { mark: { type: 'rule', strokeDash: [3, 3], color: '#666' }, encoding: { y: { datum: 0.25 } } },
      ],
    },
  } as TopLevelSpec;
}

/** Delivered rate per scenario and dispatcher (median over rounds). */
export function throughputSpec(results: BenchResults): TopLevelSpec | undefined {
  const values: Array<{ scenario: string; dispatcher: string; mpps: number }> = [];
  for (const s of results.scenarios) {
    for (const id of ORDER) {
      const d = s.summary.perDispatcher[id];
      if (d && Number.isFinite(d.deliveredPps.median)) values.push({ scenario: s.id, dispatcher: label(id), mpps: d.deliveredPps.median / 1e6 });
    }
  }
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Delivered rate per scenario', subtitle: 'median over rounds, Mpps at the servers' },
    data: { values },
    width: Math.max(480, 90 * results.scenarios.length),
    height: 300,
    mark: 'bar',
    encoding: {
      x: { field: 'scenario', type: 'nominal', title: null, sort: results.scenarios.map((s) => s.id), axis: { labelAngle: -30 } },
      xOffset: { field: 'dispatcher', sort: ORDER.map(label) },
      y: { field: 'mpps', type: 'quantitative', title: 'delivered (Mpps)' },
      color: colour,
      tooltip: [{ field: 'scenario' }, { field: 'dispatcher' }, { field: 'mpps', format: '.3f' }],
    },
  } as TopLevelSpec;
}

/** TCP bulk uploads: Gbit/s per path and round (points) and the median (bar), per scenario. */
export function bulkSpec(results: BenchResults): TopLevelSpec | undefined {
  const bulk = results.bulk && !('error' in results.bulk) ? results.bulk : undefined;
  if (!bulk || bulk.scenarios.length === 0) return undefined;
  const medians: Array<{ scenario: string; path: string; gbps: number }> = [];
  const rounds: Array<{ scenario: string; path: string; gbps: number; round: number }> = [];
  for (const s of bulk.scenarios) {
    for (const p of BULK_PATHS) {
      const m = s.summary.perPath[p]?.gbps.median;
      if (m !== undefined && Number.isFinite(m)) medians.push({ scenario: s.id, path: BULK_PATH_LABELS[p], gbps: m });
      for (const r of s.rounds) {
        const t = r.trials[p];
        if (t) rounds.push({ scenario: s.id, path: BULK_PATH_LABELS[p], gbps: t.gbps, round: r.round });
      }
    }
  }
  const sort = BULK_PATHS.map((p) => BULK_PATH_LABELS[p]);
  const x = { field: 'scenario', type: 'nominal', title: null, sort: bulk.scenarios.map((s) => s.id) } as const;
  const colour = { field: 'path', type: 'nominal', title: 'path', sort, legend: { labelLimit: 400 } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'TCP bulk upload', subtitle: `Gbit/s at the server, ${bulk.tool}; bars: median over rounds, points: each round` },
    width: 360,
    height: 280,
    layer: [
      { data: { values: medians }, mark: 'bar', encoding: { x, xOffset: { field: 'path', sort }, y: { field: 'gbps', type: 'quantitative', title: 'Gbit/s' }, color: colour } },
      {
        data: { values: rounds },
        mark: { type: 'point', filled: true, color: 'black', size: 25 },
        encoding: { x, xOffset: { field: 'path', sort }, y: { field: 'gbps', type: 'quantitative' }, tooltip: [{ field: 'path' }, { field: 'round' }, { field: 'gbps', format: '.2f' }] },
      },
    ],
  } as TopLevelSpec;
}

export const CHARTS: Array<{ file: string; spec: (r: BenchResults) => TopLevelSpec | undefined }> = [
  { file: 'delivered-vs-offered.svg', spec: deliveredVsOfferedSpec },
  { file: 'per-server-spread.svg', spec: spreadSpec },
  { file: 'throughput.svg', spec: throughputSpec },
  { file: 'tcp-bulk.svg', spec: bulkSpec },
];
