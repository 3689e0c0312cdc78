// The live status page: polls status.json every POLL_MS and redraws. Plain DOM, no framework, no
// build step. Every text from the daemon goes in through textContent (a health check's message
// may quote a server's answer), never as HTML.
const POLL_MS = 2000;
const MAX_POINTS = 300; // the daemon's window: 10 minutes at 2 s

const history = [];     // samples from status.json, oldest first
let lastSeq = -1;
let lastOkAt = 0;
let startedAtMs;        // the daemon's start: a restarted daemon numbers its samples from 1 again
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, String(v));
    else node[k] = v;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

const count = (v) => Number(v).toLocaleString('en-US');
function unit(n, units, step) {
  let i = 0;
  while (Math.abs(n) >= step && i < units.length - 1) { n /= step; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}
const perSecond = (n) => `${unit(n, ['', 'k', 'M', 'G'], 1000)}/s`.replace(' /s', '/s');
const bytesPerSecond = (n) => `${unit(n, ['B', 'KiB', 'MiB', 'GiB'], 1024)}/s`;
const bytes = (n) => unit(Number(n), ['B', 'KiB', 'MiB', 'GiB', 'TiB'], 1024);
const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB');
function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

/** A value cell: the raw number in data-value (what the tests compare), a readable one shown. */
const value = (field, raw, shown, cls = 'num') => el('td', { class: cls, 'data-field': field, 'data-value': raw }, shown);

/** A sparkline of `values` (one per sample), scaled to its own maximum. */
function spark(values, label, cls = 'spark') {
  const svg = document.createElementNS(SVG, 'svg');
  const w = cls === 'spark' ? 120 : 480, h = cls === 'spark' ? 24 : 60;
  svg.setAttribute('class', cls);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(1, ...values);
  const n = Math.max(values.length - 1, 1);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', values.map((v, i) => `${((i / n) * w).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`).join(' '));
  svg.append(line);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `${label}: peak ${Math.round(max)} over the last ${Math.round((values.length * POLL_MS) / 60000)} min`;
  svg.append(title);
  return svg;
}
const series = (pick) => history.map((p) => pick(p) ?? 0);

function checks(list) {
  const box = el('span', { class: 'checks', 'data-field': 'checks', 'data-value': list.length });
  for (const c of list) {
    box.append(el('span', { class: c.ok ? 'ok' : 'failed', title: `${clock(c.atMs)} ${c.ok ? 'ok' : 'failed'} in ${c.durationMs} ms${c.message ? `: ${c.message}` : ''}` }));
  }
  return box;
}

function serverRow(service, r, rates) {
  const last = r.checks.at(-1);
  const weight = r.weight === r.configWeight ? String(r.weight) : `${r.weight} (config ${r.configWeight}${r.override ? `, ${r.override}` : ''})`;
  return el('tr', { 'data-server': r.address },
    el('td', {}, r.address, r.role === 'sorry' ? ' (sorry)' : ''),
    el('td', {}, el('span', { class: `badge state-${r.state}`, 'data-field': 'state', 'data-value': r.state, title: r.downReason ?? r.lastCheck ?? '' }, r.state.replace('_', ' '))),
    value('weight', r.weight, weight),
    value('activeFlows', r.activeFlows, count(r.activeFlows)),
    value('pps', rates?.pps ?? 0, perSecond(rates?.pps ?? 0)),
    value('bps', rates?.bps ?? 0, bytesPerSecond(rates?.bps ?? 0)),
    value('packets', r.packets, count(r.packets)),
    value('bytes', r.bytes, bytes(r.bytes)),
    el('td', {}, checks(r.checks)),
    el('td', { class: 'message', title: r.lastCheck ?? '' }, last ? `${last.ok ? 'ok' : 'failed'} ${last.durationMs} ms, ${clock(last.atMs)}${last.ok ? '' : ` · ${last.message}`}` : r.role === 'sorry' ? '' : 'not checked'),
    el('td', {}, spark(series((p) => p.services[service]?.servers[r.address]?.pps), `${r.address} packets/s`)),
  );
}

function servicePanel(s, latest) {
  const rates = latest?.services[s.name];
  const total = (field, label, raw, shown) => el('div', {}, el('span', {}, label), el('b', { 'data-field': field, 'data-value': raw }, shown));
  const head = el('h2', {}, `${s.name} `, el('small', {}, `${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}/${s.protocol} · ${s.scheduler} · flow key ${s.flowKey} · ${s.healthCheck ?? 'no health check'}`));
  const panel = el('section', { class: 'panel', 'data-service': s.name }, head);
  if (s.newFlows !== 'servers') panel.append(el('p', { class: 'warn', 'data-field': 'newFlows', 'data-value': s.newFlows }, s.newFlows === 'dropped' ? 'New flows are dropped: no server can take them.' : 'New flows go to the sorry server: no real server can take them.'));
  panel.append(el('div', { class: 'totals' },
    total('pps', 'packets/s', rates?.pps ?? 0, perSecond(rates?.pps ?? 0)),
    total('bps', 'bytes/s', rates?.bps ?? 0, bytesPerSecond(rates?.bps ?? 0)),
    total('activeFlows', 'active flows', s.servers.reduce((n, r) => n + r.activeFlows, 0), count(s.servers.reduce((n, r) => n + r.activeFlows, 0))),
    total('packets', 'packets', s.packets, count(s.packets)),
    total('bytes', 'bytes', s.bytes, bytes(s.bytes)),
    total('newFlowsTotal', 'new flows', s.newFlowsTotal, count(s.newFlowsTotal)),
    total('noServer', 'no server', s.noServer, count(s.noServer)),
  ));
  panel.append(el('div', { class: 'chart-label' }, `packets/s, last ${Math.max(1, Math.round((history.length * POLL_MS) / 60000))} min (peak ${perSecond(Math.max(0, ...series((p) => p.services[s.name]?.pps)))})`));
  panel.append(spark(series((p) => p.services[s.name]?.pps), `${s.name} packets/s`, 'chart'));
  const table = el('table', {}, el('thead', {}, el('tr', {}, ...['server', 'state', 'weight', 'flows', 'packets/s', 'bytes/s', 'packets', 'bytes', 'checks', 'last check', 'packets/s, last minutes']
    .map((h, i) => el('th', { class: i >= 2 && i <= 7 ? 'num' : '' }, h)))));
  const body = el('tbody');
  for (const r of s.servers) body.append(serverRow(s.name, r, rates?.servers[r.address]));
  table.append(body);
  panel.append(table);
  return panel;
}

function render(now) {
  const latest = history.at(-1);
  document.getElementById('summary').textContent =
    `${now.interface}${now.egressInterface !== now.interface ? ` → ${now.egressInterface}` : ''} · tx ${now.txMode} · up ${duration(now.uptimeSeconds)} · LAS ${now.version}`;
  document.getElementById('services').replaceChildren(...now.services.map((s) => servicePanel(s, latest)));
  // Reasons that dropped something get a row and a chart; the others share one line.
  const drops = Object.entries(now.drops);
  const none = drops.filter(([, n]) => Number(n) === 0);
  document.querySelector('#drops tbody').replaceChildren(
    ...drops.filter(([, n]) => Number(n) > 0).map(([reason, n]) =>
      el('tr', { 'data-drop': reason },
        el('td', { class: 'warn' }, reason), value('total', n, count(n)), value('pps', latest?.drops[reason] ?? 0, perSecond(latest?.drops[reason] ?? 0)),
        el('td', {}, spark(series((p) => p.drops[reason]), `${reason} drops/s`)))),
    ...(none.length === 0 ? [] : [el('tr', {}, el('td', { class: 'none', colSpan: 4 }, 'none for: ',
      ...none.flatMap(([reason], i) => [i > 0 ? ', ' : '', el('span', { 'data-drop': reason }, el('span', { 'data-field': 'total', 'data-value': '0' }, reason))])))]),
  );
  document.querySelector('#workers tbody').replaceChildren(...now.workers.map((w, i) =>
    el('tr', { 'data-worker': i }, el('td', {}, String(i)), value('rxPackets', w.rxPackets, count(w.rxPackets)), value('txPackets', w.txPackets, count(w.txPackets)),
      value('txErrors', w.txErrors, count(w.txErrors)), value('ringDrops', w.ringDrops, count(w.ringDrops)), value('flowsActive', w.flowsActive, count(w.flowsActive)))));
  // What the tests wait on: the daemon's time of these numbers, and the last sample drawn.
  document.body.dataset.at = String(now.atMs);
  document.body.dataset.seq = String(lastSeq);
}

function freshness() {
  const badge = document.getElementById('freshness');
  const stale = Date.now() - lastOkAt > 3 * POLL_MS;
  badge.className = `badge ${stale ? 'stale' : 'fresh'}`;
  badge.textContent = lastOkAt === 0 ? 'no answer yet' : stale ? `no answer since ${clock(lastOkAt)}` : `live, ${clock(lastOkAt)}`;
}

async function poll() {
  try {
    const response = await fetch(`status.json?since=${lastSeq}`, { cache: 'no-store' });
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    const { now, history: points } = await response.json();
    if (startedAtMs !== undefined && now.startedAtMs !== startedAtMs) {
      history.length = 0;
      lastSeq = -1;
      startedAtMs = now.startedAtMs;
      return void setTimeout(poll, 0); // ask again for the new daemon's whole window
    }
    startedAtMs = now.startedAtMs;
    for (const p of points) if (p.seq > lastSeq) history.push(p);
    if (points.length > 0) lastSeq = Math.max(lastSeq, points.at(-1).seq);
    history.splice(0, Math.max(0, history.length - MAX_POINTS));
    lastOkAt = Date.now();
    render(now);
  } catch (error) {
    console.warn('las status page:', error);
  }
  freshness();
  setTimeout(poll, POLL_MS);
}

poll();
