// The seeded lifecycle bugs as plugins, each naming the rule that must catch it.
import { createBugExporters } from './lifecycle-create.ts';
import type { ExporterPlugin, ImporterPlugin } from '../harness/plugin.ts';
import type { RuleId } from '../rules/registry.ts';

/** A lifecycle plugin with the rule its seeded bug breaks (read by self-test only). */
type Seeded<P> = P & { readonly bugOf?: RuleId };
import { vfioExporter } from '../harness/bundled.ts';
import { iommufdPlugin } from '../impl/iommufd.ts';
import { dma_buf_dynamic_attach, dma_buf_put } from '../impl/dma-buf-core.ts';
import { AfFlrThrows, CloseWithoutCleanup, D3ExitNoMemoryLock, PmEntryLeaksLock, ResetNeverCompletes, ZapWithoutRevoke } from './lifecycle-device.ts';
import { HotResetUndoKeepsRevoked } from './lifecycle-hot-reset.ts';
import { DmaImporterStaleSgt, IommufdNoUnmapOnRevoke, IommufdRemapsAfterRevoke } from './lifecycle-importer.ts';
import * as port from './lifecycle-port.ts';
import { revDrainUnmapNoPut, revPinDetachPinned } from './lifecycle-mainline.ts';
import { revInitListAddUnlocked } from './rev-init-list-add-unlocked.ts';

export function lifecycleBugExporters(): Seeded<ExporterPlugin>[] {
  return [
    vfioExporter('bug:lock-move-notify-no-resv', 'move_notify without the reservation lock', { port: port.moveNotifyNoResv, bugOf: 'LOCK-RESV' }),
    vfioExporter('bug:lock-release-resv-first', 'release takes resv before memory_lock', { port: port.releaseResvFirst, bugOf: 'LOCK-ORDER' }),
    vfioExporter('bug:lock-d3-exit-no-memory-lock', 'D3 exit unrevokes without memory_lock', { device: D3ExitNoMemoryLock, bugOf: 'LOCK-MEMLOCK' }),
    vfioExporter('bug:lock-pm-entry-leaks-lock', 'runtime PM entry returns -EINVAL holding memory_lock', { device: PmEntryLeaksLock, bugOf: 'LOCK-BALANCE' }),
    vfioExporter('bug:rev-zap-without-revoke', 'memory disabled while importers keep their mappings', { device: ZapWithoutRevoke, bugOf: 'REV-WINDOW' }),
    vfioExporter('bug:rev-hot-reset-undo-keeps-revoked', 'a hot reset that loses the memory_lock trylock to an overlapping one leaves the dma-bufs it revoked revoked', { device: HotResetUndoKeepsRevoked, bugOf: 'REV-WINDOW' }),
    vfioExporter('bug:rev-reenable-cleaned', 'cleanup leaves the dma-buf on the device list; a later enable unrevokes it', { port: port.cleanupKeepsOnList, bugOf: 'REV-CLEANUP' }),
    vfioExporter('bug:rev-map-ignores-revoked', 'map does not check revoked', { port: port.mapIgnoresRevoked, bugOf: 'REV-MAP' }),
    vfioExporter('bug:rev-iommufd-map-ignores-revoked', 'the private interconnect hands iommufd the range of a revoked dma-buf', { port: port.iommufdMapIgnoresRevoked, bugOf: 'REV-MAP' }),
    vfioExporter('bug:rev-init-not-revoked', 'a dma-buf created with memory disabled starts unrevoked', { port: port.createNeverRevoked, bugOf: 'REV-INIT' }),
    vfioExporter('bug:rev-notify-noop', 'move_notify sent without a transition', { port: port.notifyNoopTransition, bugOf: 'REV-NOTIFY' }),
    vfioExporter('bug:uaf-registration-double-put', 'registration put by cleanup and again by release', { port: port.cleanupKeepsVdev, bugOf: 'UAF-REF' }),
    vfioExporter('bug:uaf-move-double-put', 'move drops its get_file_active reference twice', { port: port.moveDoublePut, bugOf: 'UAF-OBJ' }),
    vfioExporter('bug:uaf-close-without-cleanup', 'close without cleanup: dma-bufs outlive the devres providers', { device: CloseWithoutCleanup, bugOf: 'UAF-OBJ' }),
    vfioExporter('bug:uaf-cleanup-ignores-dying', 'cleanup takes a reference on a dying file', { port: port.cleanupIgnoresDying, bugOf: 'UAF-DYING' }),
    vfioExporter('bug:iommufd-one-any-ranges', 'private interconnect hands out multi-range dma-bufs', { port: port.iommufdAnyRanges, bugOf: 'IOMMUFD-ONE' }),
    vfioExporter('bug:rev-importer-move-not-revoke', 'zap sends move_notify without setting revoked: a move to an importer that cannot fault', { port: port.moveNotRevoke, bugOf: 'REV-IMPORTER' }),
    vfioExporter('bug:plugin-af-flr-throws', 'AF FLR dereferences a missing capability and throws', { device: AfFlrThrows, bugOf: 'PLUGIN-THROW' }),
    vfioExporter('bug:plugin-reset-hangs', 'reset waits for a completion that never comes', { device: ResetNeverCompletes, bugOf: 'PLUGIN-TIMEOUT' }),
    revDrainUnmapNoPut,
    revInitListAddUnlocked,
    ...createBugExporters(),
  ];
}

export function lifecycleBugImporters(): Seeded<ImporterPlugin>[] {
  return [
    iommufdPlugin('bug:iommufd-no-unmap-on-revoke', (k, d, e) => new IommufdNoUnmapOnRevoke(k, d, e), 'IOMMUFD-MMIO'),
    iommufdPlugin('bug:iommufd-remaps-after-revoke', (k, d, e) => new IommufdRemapsAfterRevoke(k, d, e), 'IOMMUFD-REVOKED'),
    revPinDetachPinned,
    {
      kind: 'importer', name: 'bug:uaf-mapping-stale-sgt', importer: 'dma', profiles: ['v8'], bugOf: 'UAF-MAPPING',
      description: 'DMA importer keeps using its sg_table after move_notify unmapped it',
      async attach(k, dmabuf, _exporter, { p2p, dev }) {
        const imp = new DmaImporterStaleSgt(k, dmabuf);
        dmabuf.file.get('dma_buf_get');
        const r = await dma_buf_dynamic_attach(k, dmabuf, dev, { allow_peer2peer: p2p, move_notify: (a) => imp.move_notify(a) });
        if (!r.ok) {
          await dma_buf_put(dmabuf, 'dma_buf_get');
          return r;
        }
        imp.attach = r.attach;
        return { ok: true, value: imp };
      },
    },
  ];
}
