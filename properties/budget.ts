// Property budgets: the defaults keep `npm test` under 60 s on 2 cores;
// DMABUF_RUNS=10 multiplies every budget by ten for a deeper run.
const factor = Number(process.env.DMABUF_RUNS ?? '1');

export function budget(numRuns: number): number {
  return Math.max(1, Math.round(numRuns * (Number.isFinite(factor) && factor > 0 ? factor : 1)));
}
