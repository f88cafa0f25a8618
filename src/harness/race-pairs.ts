// The race search's cases, generated: two commands of the lifecycle's alphabet (models/lifecycle.ts LcCmd) that
// a kernel can run at once, each after the commands that set up the state it needs. Besides the reviewers'
// races (race.ts RACE_SCENARIOS) the search draws a user or importer operation against a revoke or unrevoke path
// of the device (memory disable and enable, FLR, AF FLR, reset, D3 entry and exit, runtime PM entry and exit,
// close), two device paths against each other, and two user or importer operations. The create is the one
// whose state 002 v8 10/11 decides under memory_lock: vfio_pci_core_feature_dma_buf() takes
// down_write(&vdev->memory_lock), sets priv->revoked = !__vfio_pci_memory_enabled(vdev) and does the
// list_add_tail() onto vdev->dmabufs under it, so every revoke path (which holds memory_lock for write while it
// walks that list) either finds the new dma-buf on the list or leaves memory as the create read it.
import fc from 'fast-check';
import type { DeviceEvent, Importer, LcCmd } from '../../models/lifecycle.ts';
import { createCmd } from './lifecycle.ts';

/** What a racer needs done before the race: a dma-buf (buf0 on dev0, buf1 on dev1), an attachment of buf0, a
 *  mapping through it, dev0's memory decode off, dev0 in D3hot, dev0's runtime PM engaged. */
export type Need = 'buf' | 'buf1' | 'att' | 'mapped' | 'mem-off' | 'd3' | 'pm';

/** One racer: its command, what it needs first, and which file it goes through. A device-fd command (create,
 *  config writes, the reset and PM ioctls, hot reset) holds that file for its whole run; a dma-buf command
 *  (attach, map, unmap, detach, access, close of the dma-buf fd) goes through the dma-buf's file or the importer. */
export interface Racer {
  readonly cmd: LcCmd;
  readonly needs: readonly Need[];
  readonly side: 'device' | 'dma-buf';
}

/** A generated race case: the serial prefix, then `a` and `b` at once (race.ts race()). */
export interface RacePair {
  readonly name: string;
  readonly prefix: readonly LcCmd[];
  readonly a: LcCmd;
  readonly b: LcCmd;
}

const ev = (event: DeviceEvent, needs: readonly Need[] = []): Racer => ({ cmd: { op: 'event', dev: 0, event }, needs, side: 'device' });

/** The device's revoke and unrevoke paths (002 v8 10/11: every vfio_pci_dma_buf_move() call site, and close's
 *  vfio_pci_dma_buf_cleanup()). An unrevoke path needs its device state first. Open and unbind are left out: they
 *  act on a closed device, whose dma-bufs the close's cleanup already detached. */
export const EVENT_RACERS: readonly Racer[] = [
  ev('mem-off'), ev('flr'), ev('af-flr'), ev('reset'), ev('d3-enter'), ev('pm-entry'), ev('close'),
  ev('mem-on', ['mem-off']), ev('d3-exit', ['d3']), ev('pm-exit', ['pm']),
];

/** The user's and the importers' operations, with the attachment's importer. */
export function opRacers(importer: Importer): Racer[] {
  const att = 0;
  return [
    { cmd: createCmd(0, 1), needs: [], side: 'device' },
    { cmd: { op: 'attach', buf: 0, importer, p2p: true }, needs: ['buf'], side: 'dma-buf' },
    { cmd: { op: 'map', att }, needs: ['att'], side: 'dma-buf' },
    { cmd: { op: 'unmap', att }, needs: ['mapped'], side: 'dma-buf' },
    { cmd: { op: 'detach', att }, needs: ['mapped'], side: 'dma-buf' },
    { cmd: { op: 'access', att }, needs: ['mapped'], side: 'dma-buf' },
    { cmd: { op: 'close-fd', buf: 0 }, needs: ['buf'], side: 'dma-buf' },
    { cmd: { op: 'hot-reset', devs: [0, 1] }, needs: ['buf1'], side: 'device' },
  ];
}

/** Device close is the release of the device's last file (vfio_pci_core_close_device() from the file's release, under
 *  dev_set->lock as the hot reset is): no command on that device's file can be running then. It races only the
 *  dma-buf side. An importer drives its own attachment one call at a time (map, unmap, detach and its DMA are the
 *  importer's sequence, not two threads'): two calls on one attachment are not a race. */
export function mayOverlap(x: Racer, y: Racer): boolean {
  const closes = (r: Racer) => r.cmd.op === 'event' && r.cmd.event === 'close';
  const onAttachment = (r: Racer) => r.cmd.op === 'map' || r.cmd.op === 'unmap' || r.cmd.op === 'detach' || r.cmd.op === 'access';
  if (onAttachment(x) && onAttachment(y)) return false;
  return !((closes(x) && y.side === 'device') || (closes(y) && x.side === 'device'));
}

/** The prefix that sets up `needs`, in the order a user would: the dma-bufs, the attachment and its mapping, then
 *  the device state (a revoke after the mapping, so the mapping is the importer's to lose). */
export function prefixOf(needs: ReadonlySet<Need>, importer: Importer): LcCmd[] {
  const has = (n: Need) => needs.has(n);
  const out: LcCmd[] = [];
  if (has('buf') || has('att') || has('mapped')) out.push(createCmd(0, 1));
  if (has('buf1')) out.push(createCmd(1, 1));
  if (has('att') || has('mapped')) out.push({ op: 'attach', buf: 0, importer, p2p: true });
  if (has('mapped')) out.push({ op: 'map', att: 0 });
  if (has('mem-off')) out.push({ op: 'event', dev: 0, event: 'mem-off' });
  if (has('d3')) out.push({ op: 'event', dev: 0, event: 'd3-enter' });
  if (has('pm')) out.push({ op: 'event', dev: 0, event: 'pm-entry' });
  return out;
}

/** Two racers after what both need and the drawn context (a dma-buf, attached and mapped or not, that neither
 *  needs: a create or a revoke with other dma-bufs on the device's list). */
export function pairOf(x: Racer, y: Racer, context: readonly Need[], importer: Importer): RacePair {
  const needs = new Set<Need>([...x.needs, ...y.needs, ...context]);
  return { name: 'generated', prefix: prefixOf(needs, importer), a: x.cmd, b: y.cmd };
}

const CONTEXTS: readonly (readonly Need[])[] = [[], ['buf'], ['mapped']];

/** A generated pair: an operation against a device path most often (where a revoke bug hides: a create, attach,
 *  map or release racing a revoke or unrevoke), else two device paths, else two operations. */
export const generatedPairArb: fc.Arbitrary<RacePair> = fc
  .record({ importer: fc.constantFrom<Importer>('dma', 'iommufd'), kinds: fc.constantFrom('op-event', 'op-event', 'op-event', 'op-event', 'event-event', 'op-op'), i: fc.nat(), j: fc.nat(), context: fc.constantFrom(...CONTEXTS) })
  .map(({ importer, kinds, i, j, context }) => {
    // The create three times as often as each other operation: it is the one whose outcome the revoke paths must
    // serialise with under memory_lock (the others test priv->revoked under the reservation lock).
    const ops = opRacers(importer);
    ops.unshift(ops[0]!, ops[0]!);
    // Two device paths: close is not one of them (it overlaps no command on the device's file).
    const paths = EVENT_RACERS.filter((r) => r.cmd.op !== 'event' || r.cmd.event !== 'close');
    const [xs, ys] = kinds === 'op-event' ? [ops, EVENT_RACERS] : kinds === 'event-event' ? [paths, paths] : [ops, ops];
    const x = xs[i % xs.length]!;
    // y among those x may overlap with (close excludes the device side).
    const partners = ys.filter((r) => mayOverlap(x, r));
    return pairOf(x, partners[j % partners.length]!, context, importer);
  });
