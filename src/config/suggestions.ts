// What to say about a key or value LAS does not know: a typo's nearest known name, the object a
// key belongs in, or the LAS name of an ipvsadm/keepalived/HAProxy term (foreign-names.ts).
import { foreignKeyHint } from './foreign-names.js';
import { describe } from './quote.js';
import { FLOW_TIMEOUT_KEYS } from './values.js';
import { SECOND_CHANCE_KEYS } from './ha-second-chance.js';

// Known keys per object, also used to sort errors into document order and to spot a key that
// is valid one level up or down ("weight" on a service).
export const KEYS = {
  top: [
    '$schema', 'interface', 'egressInterface', 'workers', 'cpus', 'txMode', 'ingressDrop', 'gratuitousArp', 'flowTable', 'flowTimeouts', 'ring',
    'neighbourRefresh', 'adminSocket', 'adminSocketMode', 'adminSocketGroup', 'metrics', 'drainOnRemove', 'drainTimeout', 'logLevel', 'ha', 'services',
  ],
  ha: ['mode', 'vrrp', 'bgp', 'secondChance'],
  haVrrp: ['startAs', 'garpMasterRepeat', 'garpMasterDelay'],
  haSecondChance: SECOND_CHANCE_KEYS,
  flowTable: ['capacity', 'idleTimeout', 'persistDirectory'],
  flowTimeouts: FLOW_TIMEOUT_KEYS,
  ring: ['blockSize', 'blockCount', 'frameSize', 'retireTimeoutMs'],
  metrics: ['enabled', 'listen'],
  service: ['name', 'vip', 'port', 'protocol', 'flowKey', 'scheduler', 'maglevTableSize', 'onServerDown', 'healthCheck', 'sorryServer', 'servers'],
  sorryServer: ['address', 'mac'],
  server: ['address', 'mac', 'weight', 'healthCheck'],
  healthCheck: ['type', 'port', 'path', 'expectStatus', 'command', 'interval', 'timeout', 'rise', 'fall', 'flapWindow', 'flapThreshold'],
  haBgp: ['speaker', 'speakerPath', 'controlPath', 'localAddress', 'localAsn', 'peers', 'holdTime', 'listenPort'],
  haBgpPeer: ['address', 'asn'],
} as const;
export type ObjectKind = keyof typeof KEYS;

const WHERE: Record<ObjectKind, string> = {
  top: 'at the top level',
  flowTable: 'inside "flowTable"',
  flowTimeouts: 'inside "flowTimeouts"',
  ring: 'inside "ring"',
  metrics: 'inside "metrics"',
  ha: 'inside "ha"',
  haVrrp: 'inside "ha.vrrp"',
  haSecondChance: 'inside "ha.secondChance"',
  service: 'in a service',
  sorryServer: 'inside "sorryServer"',
  server: 'in a server entry',
  healthCheck: 'inside "healthCheck"',
  haBgp: 'inside "ha.bgp"',
  haBgpPeer: 'in a BGP peer',
};

/** Edit distance counting a swap of two neighbours as one edit ("tpc" -> "tcp"), the usual typo. */
function editDistance(a: string, b: string): number {
  // Three rows of one flat array instead of a table of arrays: a file with a million unknown keys
  // asks for tens of millions of these.
  const w = b.length + 1;
  const rows = new Int32Array(3 * w);
  let prev2 = 0;
  let prev = w;
  let cur = 2 * w;
  for (let j = 0; j < w; j++) rows[prev + j] = j;
  for (let i = 1; i <= a.length; i++) {
    rows[cur] = i;
    for (let j = 1; j < w; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let best = Math.min(rows[prev + j]! + 1, rows[cur + j - 1]! + 1, rows[prev + j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) best = Math.min(best, rows[prev2 + j - 2]! + 1);
      rows[cur + j] = best;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return rows[prev + b.length]!;
}

/** The closest candidate if it is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(1, Math.floor(word.length / 3));
  for (const candidate of candidates) {
    // The distance is at least the difference in length: a 2 MB key from a hostile file must not
    // cost a 2 MB x 15 table per candidate.
    if (Math.abs(word.length - candidate.length) > limit) continue;
    const d = candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= limit ? best : undefined;
}

export function unknownKeyMessage(key: string, kind: ObjectKind): string {
  const near = nearest(key, KEYS[kind]);
  if (near) return `unknown key ${describe(key)}: did you mean "${near}"?`;
  const home = (Object.keys(KEYS) as ObjectKind[]).find((k) => k !== kind && (KEYS[k] as readonly string[]).includes(key));
  if (home) return `unknown key ${describe(key)} ${WHERE[kind]}: "${key}" belongs ${WHERE[home]}; move it there`;
  const foreign = foreignKeyHint(key);
  if (foreign) return `unknown key ${describe(key)} ${WHERE[kind]}: ${foreign}`;
  return `unknown key ${describe(key)} ${WHERE[kind]}; remove it (known keys: ${KEYS[kind].join(', ')})`;
}
