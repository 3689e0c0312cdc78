// The bench topology: generator ns --veth--> dispatcher ns --veth--> sink ns.
//
//   <p>-gen: gen0 ──── in0 :<p>-disp: out0 ──── sink0 :<p>-sink
//
// The sink counts frames per destination MAC (= per server) on an AF_PACKET socket; a tc ingress
// drop behind the tap keeps the sink's own kernel from doing any work on them. With real NICs
// (--interfaces) the four interfaces are moved into the same three namespaces instead, so nothing
// the suite installs (nft tables, tc filters, the daemon's ingress drop) touches the host's stack.
// Everything is registered with src/netns so it is removed on exit, Ctrl-C or a failure.
import { addNamespace, addVethPair, deleteNamespace, linkInfo, setLinkUp, setSysctls, uniquePrefix, waitForLinkUp } from '../src/netns/namespace.js';
import { run } from '../src/netns/run.js';

export interface Endpoint { ns: string; ifname: string; mac: string }

export interface NicMap { gen: string; in: string; out: string; sink: string }

export interface Topology {
  kind: 'veth' | 'nic';
  prefix: string;
  gen: Endpoint;
  dispIn: Endpoint;
  dispOut: Endpoint;
  sink: Endpoint;
  namespaces: string[];
  destroy(): Promise<void>;
}

/** tc cls_bpf bytecode: one instruction, "return TC_ACT_SHOT". */
export const DROP_ALL_BYTECODE = '1,6 0 0 2';

/** Parses "gen=eth1,in=eth2,out=eth3,sink=eth4" (the --interfaces option). */
export function parseInterfaces(text: string): NicMap {
  const map: Partial<Record<keyof NicMap, string>> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = part.split('=');
    if (!key || !value || !['gen', 'in', 'out', 'sink'].includes(key)) {
      throw new Error(`--interfaces: "${part}" is not ROLE=IFNAME with ROLE one of gen, in, out, sink (e.g. gen=eth1,in=eth2,out=eth3,sink=eth4)`);
    }
    map[key as keyof NicMap] = value;
  }
  for (const role of ['gen', 'in', 'out', 'sink'] as const) {
    if (!map[role]) throw new Error(`--interfaces: the "${role}" interface is missing (give gen=,in=,out=,sink=)`);
  }
  const names = Object.values(map);
  if (new Set(names).size !== names.length) throw new Error('--interfaces: the four interfaces must be different');
  return map as NicMap;
}

async function quiet(ns: string): Promise<void> {
  // No IPv6 chatter (RS, DAD, MLD) in the counters.
  try {
    await setSysctls(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
  } catch { /* no IPv6 in this kernel */ }
}

async function installSinkDrop(ns: string, ifname: string): Promise<void> {
  await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', ifname, 'clsact']);
  await run('tc', ['-n', ns, 'filter', 'add', 'dev', ifname, 'ingress', 'pref', '1', 'bpf', 'da', 'bytecode', DROP_ALL_BYTECODE]);
}

async function ipv4Addresses(ifname: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-j', 'addr', 'show', 'dev', ifname]);
  const links = JSON.parse(stdout || '[]') as Array<{ addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`));
}

export async function createTopology(opts: { interfaces?: NicMap; prefix?: string } = {}): Promise<Topology> {
  const prefix = uniquePrefix(opts.prefix ?? 'lasb');
  const ns = { gen: `${prefix}-gen`, disp: `${prefix}-disp`, sink: `${prefix}-sink` };
  const namespaces = [ns.gen, ns.disp, ns.sink];
  const nics = opts.interfaces;
  const names = nics
    ? { gen: nics.gen, in: nics.in, out: nics.out, sink: nics.sink }
    : { gen: 'gen0', in: 'in0', out: 'out0', sink: 'sink0' };
  const moved: Array<{ ns: string; ifname: string; promisc?: boolean }> = [];
  const wasUp = new Map<string, boolean>();

  const destroy = async () => {
    // Real NICs go back to the host first (deleting the namespace would also do it, under another name if taken).
    for (const m of moved) {
      // Leave nothing of ours on a host NIC: clsact (sink drop, LAS ingress drop), promiscuous mode.
      await run('tc', ['-n', m.ns, 'qdisc', 'del', 'dev', m.ifname, 'clsact']).catch(() => undefined);
      if (m.promisc) await run('ip', ['-n', m.ns, 'link', 'set', 'dev', m.ifname, 'promisc', 'off']).catch(() => undefined);
      try {
        await run('ip', ['-n', m.ns, 'link', 'set', 'dev', m.ifname, 'netns', '1']);
        // Moving a device between namespaces takes it down: bring it back as it was.
        if (wasUp.get(m.ifname)) await run('ip', ['link', 'set', 'dev', m.ifname, 'up']).catch(() => undefined);
      } catch { /* namespace deletion returns it */ }
    }
    const results = await Promise.allSettled(namespaces.map((n) => deleteNamespace(n)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new AggregateError(failed.map((f) => f.reason), `bench topology ${prefix}: ${failed.length} namespace(s) left`);
  };

  try {
    if (nics) {
      for (const ifname of Object.values(nics)) {
        const { stdout } = await run('ip', ['-j', 'link', 'show', 'dev', ifname]);
        wasUp.set(ifname, ((JSON.parse(stdout) as Array<{ flags?: string[] }>)[0]?.flags ?? []).includes('UP'));
        const addresses = await ipv4Addresses(ifname);
        if (addresses.length > 0) {
          throw new Error(
            `interface ${ifname} has IPv4 addresses (${addresses.join(', ')}): the suite moves the benchmark interfaces into ` +
              'its own namespaces, which removes their addresses and routes. Give dedicated test interfaces.',
          );
        }
      }
    }
    for (const n of namespaces) {
      await addNamespace(n);
      await quiet(n);
    }
    if (nics) {
      const place: Array<[string, string]> = [[nics.gen, ns.gen], [nics.in, ns.disp], [nics.out, ns.disp], [nics.sink, ns.sink]];
      for (const [ifname, target] of place) {
        await run('ip', ['link', 'set', 'dev', ifname, 'netns', target]);
        moved.push({ ns: target, ifname });
      }
      // Frames to the (virtual) server MACs must reach the sink's socket.
      await run('ip', ['-n', ns.sink, 'link', 'set', 'dev', nics.sink, 'promisc', 'on']);
      moved.find((m) => m.ifname === nics.sink)!.promisc = true;
    } else {
      await addVethPair({ name: names.gen, ns: ns.gen }, { name: names.in, ns: ns.disp });
      await addVethPair({ name: names.out, ns: ns.disp }, { name: names.sink, ns: ns.sink });
    }
    await setLinkUp(ns.gen, names.gen);
    await setLinkUp(ns.disp, names.in);
    await setLinkUp(ns.disp, names.out);
    await setLinkUp(ns.sink, names.sink);
    const timeout = nics ? 30_000 : 5000; // a real link may take seconds to come up
    const [gen, dispIn, dispOut, sink] = await Promise.all([
      waitForLinkUp(ns.gen, names.gen, timeout),
      waitForLinkUp(ns.disp, names.in, timeout),
      waitForLinkUp(ns.disp, names.out, timeout),
      waitForLinkUp(ns.sink, names.sink, timeout),
    ]);
    await installSinkDrop(ns.sink, names.sink);
    return {
      kind: nics ? 'nic' : 'veth',
      prefix,
      gen: { ns: ns.gen, ifname: names.gen, mac: gen.mac },
      dispIn: { ns: ns.disp, ifname: names.in, mac: dispIn.mac },
      dispOut: { ns: ns.disp, ifname: names.out, mac: dispOut.mac },
      sink: { ns: ns.sink, ifname: names.sink, mac: sink.mac },
      namespaces,
      destroy,
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/** MTU of an endpoint (frames up to MTU + 14 bytes fit). */
export async function endpointMtu(e: Endpoint): Promise<number> {
  return (await linkInfo(e.ns, e.ifname)).mtu;
}
