// The demo's bulk upload: a byte-counting sink on every real server, a TCP service for the upload
// port beside HTTP, and one upload from the client through the VIP with the client's default
// offloads (so the dispatcher sees 64 KB TCP super-frames, as from any Linux client).
import type { DrSegment, DrServer } from '../netns/lvs-dr.js';
import { BULK_PORT, formatRate, runBulkUpload, startBulkSink, type BulkSink } from './bulk.js';
import type { LabServiceOptions } from './lab-config.js';

export const UPLOAD_PORT = BULK_PORT;
export const DEFAULT_UPLOAD_BYTES = 100_000_000;

/** The daemon service for the upload port, to list beside the HTTP one. */
export const UPLOAD_SERVICE: LabServiceOptions = { name: 'upload', port: UPLOAD_PORT, protocol: 'tcp' };

/** One sink per server, keyed by server name; on failure the ones already started are stopped. */
export async function startUploadSinks(servers: DrServer[]): Promise<Map<string, BulkSink>> {
  const started = await Promise.allSettled(servers.map(async (server) => [server.name, await startBulkSink(server.ns, { port: UPLOAD_PORT })] as const));
  const sinks = new Map(started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await Promise.allSettled([...sinks.values()].map((sink) => sink.stop()));
    throw failed.reason;
  }
  return sinks;
}

export interface UploadOutcome { ok: boolean; line: string }

/**
 * Uploads `bytes` to VIP:UPLOAD_PORT and checks, at the servers, that one of them counted every byte.
 * Never throws: the outcome's line says what happened, for the demo to print.
 */
export async function demoUpload(segment: DrSegment, sinks: Map<string, BulkSink>, bytes: number): Promise<UploadOutcome> {
  const target = `${segment.vip}:${UPLOAD_PORT}`;
  try {
    // Bounded for a demo: a working path moves 100 MB in seconds; a broken one crawls on retransmissions.
    const result = await runBulkUpload(segment.client.ns, { host: segment.vip, port: UPLOAD_PORT, bytes, timeoutMs: 30_000 });
    const receipts = await Promise.all([...sinks].map(async ([name, sink]) => ({ name, receipts: await sink.received() })));
    const counted = receipts.flatMap(({ name, receipts: list }) => list.map((receipt) => ({ name, bytes: receipt.bytes })));
    const full = counted.find((receipt) => receipt.bytes === bytes);
    if (!full) return { ok: false, line: `FAIL: upload to ${target}: no server counted all ${bytes} bytes (${JSON.stringify(counted)})` };
    const retransmits = result.retransmits === null ? '' : `, ${result.retransmits} retransmitted segments`;
    return { ok: true, line: `  upload  ${target} -> ${full.name}: ${formatRate(result)}${retransmits}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const reason = /bulk-upload: (.*)$/s.exec(message)?.[1]?.trim() ?? message;  // the client's own words, not the command line
    return { ok: false, line: `FAIL: the ${(bytes / 1e6).toFixed(0)} MB upload to ${target} did not complete: ${reason}` };
  }
}
