// Small statistics for the bench: the median and the maximum of a sample.

export interface Summary {
  readonly median: number;
  readonly max: number;
}

/** Median (the mean of the middle two for an even count, to 0.01) and maximum; a sample is never empty. */
export function summarize(xs: readonly number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : Math.round(((s[mid - 1]! + s[mid]!) / 2) * 100) / 100;
  return { median, max: s[s.length - 1]! };
}

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Milliseconds since `t0`, rounded to 0.1 ms. */
export const since = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

/** The process's CPU time (user + system, all threads), ms. */
export const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU milliseconds since `c0` (from cpuMs()), rounded to 0.1 ms. */
export const cpuSince = (c0: number): number => Math.round((cpuMs() - c0) * 10) / 10;
