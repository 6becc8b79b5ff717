// Percentiles and the one result format every bench script prints: one JSON
// object per line, {"key","unit","n","p50","p90","p99","min","max"}, read by report.mjs.

/** Nearest-rank percentile (q in 0..1) of an unsorted array of numbers. */
export function percentile(samples, q) {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const round = (x) => Math.round(x * 1000) / 1000;

/** Prints one result line for `samples` (in `unit`) under `key`, plus any extra fields. */
export function emit(key, unit, samples, extra = {}) {
  const line = {
    key,
    unit,
    n: samples.length,
    p50: round(percentile(samples, 0.5)),
    p90: round(percentile(samples, 0.9)),
    p99: round(percentile(samples, 0.99)),
    min: round(Math.min(...samples)),
    max: round(Math.max(...samples)),
    ...extra,
  };
  process.stdout.write(JSON.stringify(line) + '\n');
  return line;
}

/** Prints a single-value result (e.g. memory per sandbox) under `key`. */
export function emitValue(key, unit, value, extra = {}) {
  const v = round(value);
  const line = { key, unit, n: 1, p50: v, p90: v, p99: v, min: v, max: v, ...extra };
  process.stdout.write(JSON.stringify(line) + '\n');
  return line;
}

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
