// A worker's sign of life, read by the pool's watchdog in the parent thread
// (src/harness/pool.ts): a counter bumped at every plugin hook, generated
// case and lifecycle command, and the name of the hook last entered. A
// synchronous loop inside a plugin stops both; the parent sees the counter
// stand still, stops the worker, and reports PLUGIN-TIMEOUT naming the hook.
// Outside a worker nothing is installed and a beat costs one branch.
const LABEL_BYTES = 240;

interface Shared {
  readonly count: Int32Array;
  readonly label: Uint8Array;
}

let shared: Shared | undefined;
const encoder = new TextEncoder();

/** The shared memory of one worker: counter (4 bytes), label length (4 bytes), label (UTF-8). */
export function heartbeatBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(8 + LABEL_BYTES);
}

/** In the worker: beat into this buffer from now on. */
export function installHeartbeat(buf: SharedArrayBuffer): void {
  shared = { count: new Int32Array(buf, 0, 2), label: new Uint8Array(buf, 8, LABEL_BYTES) };
}

/** A sign of progress; with a plugin and hook, the hook being entered (the label is built only inside a worker). */
export function beat(plugin?: string, hook?: string): void {
  if (!shared) return;
  Atomics.add(shared.count, 0, 1);
  if (plugin !== undefined) Atomics.store(shared.count, 1, encoder.encodeInto(`${plugin}: ${hook ?? ''}`, shared.label).written);
}

/** In the parent: the counter and the last label of a worker's buffer. */
export function readHeartbeat(buf: SharedArrayBuffer): { count: number; label: string } {
  const count = new Int32Array(buf, 0, 2);
  const len = Atomics.load(count, 1);
  return { count: Atomics.load(count, 0), label: new TextDecoder().decode(new Uint8Array(buf, 8, LABEL_BYTES).slice(0, len)) };
}
