// MemAvailable sampled several times (default 5, 400 ms apart): prints
// "<median bytes> <spread bytes>" so a drop can be reported with its noise.
// A shared host moves MemAvailable by megabytes on its own; the spread says how much.
import fs from 'node:fs';

export function readMemAvailable() {
  return Number(fs.readFileSync('/proc/meminfo', 'utf8').match(/^MemAvailable:\s+(\d+)/m)[1]) * 1024;
}

export async function sampleMemAvailable(n = 5, gapMs = 400) {
  const v = [];
  for (let i = 0; i < n; i++) {
    if (i) await new Promise((r) => setTimeout(r, gapMs));
    v.push(readMemAvailable());
  }
  v.sort((a, b) => a - b);
  return { median: v[Math.floor(v.length / 2)], spread: v[v.length - 1] - v[0] };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { median, spread } = await sampleMemAvailable(Number(process.argv[2] || 5));
  console.log(`${median} ${spread}`);
}
