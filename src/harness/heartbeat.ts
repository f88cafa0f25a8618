// A worker's sign of life, read by the pool's watchdog in the parent thread
// (src/harness/pool.ts): a counter bumped at every plugin hook, generated
// case and lifecycle command, and the name of the hook last entered. A
// synchronous loop inside a plugin stops both; the parent sees the counter
// stand still, stops the worker, and reports PLUGIN-TIMEOUT naming the hook.
// Outside a worker nothing is installed and a beat costs one branch.
const LABEL_BYTES = 240;

interface Shared {
  /** [beats, label length, cases run] */
  readonly count: Int32Array;
  readonly label: Uint8Array;
}

/** Bytes before the label: the beat counter, the label's length, the cases counter. */
const HEAD = 12;

let shared: Shared | undefined;
const encoder = new TextEncoder();

/** The shared memory of one worker: counter (4 bytes), label length (4 bytes), cases run (4 bytes), label (UTF-8). */
export function heartbeatBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEAD + LABEL_BYTES);
}

/** In the worker: beat into this buffer from now on. */
export function installHeartbeat(buf: SharedArrayBuffer): void {
  shared = { count: new Int32Array(buf, 0, 3), label: new Uint8Array(buf, HEAD, LABEL_BYTES) };
}

/** A sign of progress; with a plugin and hook, the hook being entered (the label is built only inside a worker). */
export function beat(plugin?: string, hook?: string): void {
  if (!shared) return;
  Atomics.add(shared.count, 0, 1);
  if (plugin !== undefined) Atomics.store(shared.count, 1, encoder.encodeInto(`${plugin}: ${hook ?? ''}`, shared.label).written);
}

/** A generated case starts running (a search's run or a shrink's): a beat, and one more case in the
 *  worker's count, which the runner's progress line shows while a long round runs. */
export function caseRan(): void {
  if (!shared) return;
  Atomics.add(shared.count, 0, 1);
  Atomics.add(shared.count, 2, 1);
}

/** In the parent: the counter, the last label and the cases run (caseRan) of a worker's buffer. */
export function readHeartbeat(buf: SharedArrayBuffer): { count: number; label: string; cases: number } {
  const count = new Int32Array(buf, 0, 3);
  const len = Atomics.load(count, 1);
  return { count: Atomics.load(count, 0), label: new TextDecoder().decode(new Uint8Array(buf, HEAD, LABEL_BYTES).slice(0, len)), cases: Atomics.load(count, 2) };
}
