/**
 * Per-object statistics of the DAVIS toolkit (`davis2017/utils.py: db_statistics`) and the numpy
 * reductions it relies on, reproduced to the bit: numpy sums float64 arrays pairwise (blocks of 8,
 * split above 128 elements), so means here equal numpy's exactly, not just closely.
 */

/** Any indexable run of numbers. */
export type Values = ArrayLike<number>;

/** numpy's `pairwise_sum` of `values[start .. start + n)` (float64, as `np.add.reduce`). */
export function pairwiseSum(values: Values, start = 0, n = values.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i] as number;
    return res;
  }
  if (n <= 128) {
    const r0 = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r0[j] = values[start + j] as number;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r0[j] = (r0[j] as number) + (values[start + i + j] as number);
    }
    const [a, b, c, d, e, f, g, h] = r0 as [number, number, number, number, number, number, number, number];
    let res = a + b + (c + d) + (e + f + (g + h));
    for (; i < n; i++) res += values[start + i] as number;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(values, start, n2) + pairwiseSum(values, start + n2, n - n2);
}

/** `np.mean` of a float64 array (NaN when empty, as numpy, which also warns). */
export function npMean(values: Values): number {
  if (values.length === 0) return Number.NaN;
  return (0 + pairwiseSum(values)) / values.length;
}

/** `np.nanmean` of `values[start .. end)`: NaN entries ignored, NaN when nothing is left. */
export function npNanMean(values: Values, start = 0, end = values.length): number {
  const n = Math.max(0, end - start);
  let count = 0;
  let hasNan = false;
  for (let i = start; i < start + n; i++) {
    if (Number.isNaN(values[i] as number)) hasNan = true;
    else count++;
  }
  if (count === 0) return Number.NaN;
  if (!hasNan) return (0 + pairwiseSum(values, start, n)) / count;
  const copy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[start + i] as number;
    copy[i] = Number.isNaN(v) ? 0 : v;
  }
  return (0 + pairwiseSum(copy)) / count;
}

/** numpy `round` (half to even) of a float64. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The decay bin edges of `db_statistics` for `n` values:
 * `(round(linspace(1, n, 5) + 1e-10) - 1).astype(uint8)`. The uint8 cast wraps modulo 256 for
 * n > 256 (a quirk of the official code, reproduced: it can leave bins empty, giving D = NaN).
 */
export function decayBinIds(n: number): number[] {
  const num = 5;
  const start = 1;
  const stop = n;
  const div = num - 1;
  const step = (stop - start) / div;
  const ids: number[] = [];
  for (let i = 0; i < num; i++) {
    // numpy linspace: i * step + start, the last value set to stop exactly.
    let y = step === 0 ? ((i / div) * (stop - start)) + start : i * step + start;
    if (i === num - 1) y = stop;
    const v = roundHalfEven(y + 1e-10) - 1;
    ids.push(((v % 256) + 256) % 256);
  }
  return ids;
}

/** M (mean), R (recall, share of values > 0.5) and D (decay) of one object's per-frame values. */
export interface ObjectStatistics {
  mean: number;
  recall: number;
  decay: number;
}

/**
 * `db_statistics(per_frame_values)`: M = nanmean, R = nanmean(values > 0.5), D = nanmean(bin 0) -
 * nanmean(bin 3) with the 4 overlapping bins `values[ids[i] : ids[i+1] + 1]`.
 */
export function dbStatistics(values: Values): ObjectStatistics {
  const n = values.length;
  const mean = npNanMean(values);
  let above = 0;
  for (let i = 0; i < n; i++) if ((values[i] as number) > 0.5) above++;
  // nanmean of a boolean array is a plain mean (booleans have no NaN).
  const recall = n === 0 ? Number.NaN : above / n;
  const ids = decayBinIds(n);
  const bin = (i: number): [number, number] => {
    // Python slice values[a : b + 1], clamped to the array.
    const a = Math.min(ids[i] as number, n);
    const b = Math.min((ids[i + 1] as number) + 1, n);
    return [a, Math.max(a, b)];
  };
  const [a0, b0] = bin(0);
  const [a3, b3] = bin(3);
  const decay = npNanMean(values, a0, b0) - npNanMean(values, a3, b3);
  return { mean, recall, decay };
}

/**
 * Python's `'%.3f' % x` (correctly rounded, ties to even on the exact binary value), as pandas
 * writes with `float_format="%.3f"`; NaN becomes the empty string (pandas' default `na_rep`).
 */
export function formatFixed3(x: number): string {
  if (Number.isNaN(x)) return "";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const negative = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  // toFixed rounds ties away from zero; exact ties at 3 decimals are the odd multiples of 1/16.
  let s = ax.toFixed(3);
  const scaled = ax * 16;
  if (Number.isInteger(scaled) && scaled % 2 === 1) {
    const thousandths = ax * 1000; // exact for multiples of 1/16 in range
    const down = Math.floor(thousandths);
    const pick = down % 2 === 0 ? down : down + 1;
    s = (pick / 1000).toFixed(3);
  }
  return negative ? `-${s}` : s;
}
