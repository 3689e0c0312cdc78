// RFC 2544 (section 26.1) throughput search: the highest offered rate at which nothing is lost,
// found by binary search between 0 and the fastest rate the generator reaches. Bounded: `steps`
// trials at most, so the answer is known to within maxRate / 2^(steps-1).

export interface SearchOutcome {
  offeredPps: number;
  deliveredPps: number;
  sent: number;
  lost: number;
  lossRatio: number;
  /** Frames the dispatcher still had queued when the generator stopped (delivered after the window). */
  backlog: number;
}
export interface SearchTrial extends SearchOutcome { targetPps: number; lossless: boolean }

export interface SearchResult {
  /** Measured offered rate of the fastest lossless trial; 0 when no trial was lossless. */
  highestLosslessPps: number;
  /** Measured offered rates bracketing the answer: the fastest passing trial, and the slowest
   *  failing trial above it (null when none failed above it). */
  low: number;
  high: number | null;
  trials: SearchTrial[];
  /** The first trial, at the generator's full rate, was already lossless: the answer is a lower bound. */
  limitedByGenerator: boolean;
}

export interface SearchOptions {
  steps: number;
  /** lost/sent at or below this counts as no loss (0: strict). */
  lossTolerance: number;
  /** Do not search below this (a trial rate too low to measure). */
  minRatePps?: number;
}

/**
 * No loss, and the dispatcher kept up: an RX ring of tens of MiB holds hundreds of thousands of
 * frames, so in a short trial an overloaded dispatcher would lose nothing and deliver the rest after
 * the generator stopped. What it still had queued then must not exceed 50 ms of the offered traffic
 * (LAS retires ring blocks every 10 ms) or 1000 frames, whichever is more.
 */
export function isLossless(o: SearchOutcome, tolerance: number): boolean {
  return o.sent > 0 && o.lost <= tolerance * o.sent && o.backlog <= Math.max(1000, o.offeredPps * 0.05);
}

/**
 * trial(0) runs at the generator's full rate; trial(r) paces it at r frames per second. The first
 * trial is at full rate (RFC 2544 starts at the maximum): lossless there ends the search, otherwise
 * its measured rate is the top of a binary search on the paced rate. Rates are compared as measured
 * (the generator does not always reach the rate asked of it).
 */
export async function rfc2544Search(trial: (ratePps: number) => Promise<SearchOutcome>, opts: SearchOptions): Promise<SearchResult> {
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new Error('rfc2544Search: steps must be at least 1');
  const trials: SearchTrial[] = [];
  const attempt = async (targetPps: number) => {
    const o = await trial(Math.round(targetPps));
    const t = { ...o, targetPps: Math.round(targetPps), lossless: isLossless(o, opts.lossTolerance) };
    trials.push(t);
    return t;
  };
  const first = await attempt(0);
  if (first.lossless) return { highestLosslessPps: first.offeredPps, low: first.offeredPps, high: null, trials, limitedByGenerator: true };
  let low = 0;
  let high = first.offeredPps;
  const floor = opts.minRatePps ?? 1000;
  for (let step = 1; step < opts.steps; step++) {
    const rate = (low + high) / 2;
    if (rate < floor) break;
    const t = await attempt(rate);
    if (t.lossless) low = rate;
    else high = rate;
  }
  const passed = trials.filter((t) => t.lossless);
  const best = passed.reduce<SearchTrial | undefined>((a, t) => (!a || t.offeredPps > a.offeredPps ? t : a), undefined);
  const bestPps = best?.offeredPps ?? 0;
  const above = trials.filter((t) => !t.lossless && t.offeredPps > bestPps).map((t) => t.offeredPps);
  return { highestLosslessPps: bestPps, low: bestPps, high: above.length > 0 ? Math.min(...above) : null, trials, limitedByGenerator: false };
}
