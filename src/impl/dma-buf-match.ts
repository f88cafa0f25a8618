// Port of the RFC's mapping-type core (jgunthorpe/linux dmabuf_map_type,
// 001 RFC 01-05/26, 000 RFC 21/26): dma_buf_match_mapping(),
// dma_buf_sgt_match()/finish_match, the PAL finish_match, the compat match of
// unaware exporters, dma_buf_export()'s ops checks (RFC 05/26) and
// dma_buf_mapping_attach() (RFC 03/26, with the move_notify check), on the
// simulated kernel. drivers/dma-buf/dma-buf-mapping.c as in the later of the
// two copies of jgunthorpe/linux that the project's code index holds
// (dma_buf_match_mapping with finish_match and the -EOPNOTSUPP skip; the
// index names no commit for it: "66606891663" is the index's id, not a git
// object). The one it dates, 7cdf70a775b652499d0334a906116034568fdb27, is an
// earlier draft whose loop never runs (imp_end = args->imp_mappings) and does
// not stop at a match. dma-buf.c at 169394c2e408c0191ffe6b771f9f130371ab9de5
// for the attach body; dma_buf_export()'s legacy map/unmap acceptance is RFC
// 05/26's, which that commit predates. The converter profile's core converters (004) are a
// design proposal with no code: the loop tries them only when the types
// differ, and keeps importer PAL entries out.
import type { Errno, Result } from '../../models/errno.ts';
import type { PhysVec } from '../../models/pal.ts';
import type { Profile } from '../../models/profiles.ts';
import { spec } from '../../models/profiles.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { ResvLock } from '../kernel/locks.ts';
import type { KObj } from '../kernel/objects.ts';
import type { PalExpOps } from './converters.ts';
import type { DmaBuf } from './dma-buf-core.ts';

/** A kernel int result: 0 or a negative errno. */
export type Int = 0 | Errno;

/** enum dma_sgt_requires_p2p. */
export type SgtP2P = 'DMA_SGT_NO_P2P' | 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' | 'DMA_SGT_IMPORTER_ACCEPTS_P2P';

export interface SgtData {
  importing_dma_device: string | null;
  exporting_p2p_device: string | null;
  importer_accepts_p2p: SgtP2P;
  exporter_requires_p2p: SgtP2P;
}

/** struct dma_buf_mapping_exp_ops: a type tag; the name stands for the
 *  function pointers, `pal` is struct dma_buf_mapping_pal_exp_ops when set. */
export interface ExpOps {
  readonly name: string;
  readonly pal?: PalExpOps;
}

/** struct dma_buf_mapping_match. */
export interface DmaBufMappingMatch {
  readonly type: DmaBufMappingType;
  readonly exp_ops?: ExpOps;
  readonly sgt_data: SgtData;
  /** A driver-private importer's own data. */
  readonly imp_priv?: string;
  /** Set by a core converter's finish_match (004): its name, and the exporter ops only the core holds. */
  readonly converter?: string;
  readonly conv_src?: ExpOps;
}

/** struct dma_buf_mapping_type. */
export interface DmaBufMappingType {
  readonly name: string;
  readonly match?: (dmabuf: MatchDmaBuf, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch) => Int;
  readonly finish_match: (args: DmaBufMatchArgs, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch) => void;
}

/** A core converter (004): an exporter type turned into an importer type by the core alone. */
export interface DmaBufConverter {
  readonly name: string;
  readonly from: DmaBufMappingType;
  readonly to: DmaBufMappingType;
  readonly match?: DmaBufMappingType['match'];
  readonly finish_match: DmaBufMappingType['finish_match'];
}

/** struct dma_buf_attach_ops. */
export interface MatchAttachOps {
  readonly allow_peer2peer: boolean;
  readonly move_notify?: (attach: MatchAttachment) => void;
}

export interface MatchAttachment {
  dmabuf: MatchDmaBuf | null;
  dev: string | null;
  peer2peer: boolean;
  map_type: DmaBufMappingMatch | null;
  importer_ops: MatchAttachOps | null;
  importer_priv: unknown;
}

/** struct dma_buf_match_args. */
export interface DmaBufMatchArgs {
  readonly dmabuf: MatchDmaBuf;
  readonly imp_matches: readonly DmaBufMappingMatch[];
  readonly imp_len: number;
  readonly attach: MatchAttachment;
}

/** struct dma_buf_ops as the RFC has it (RFC 03/26, 05/26). */
export interface MatchDmaBufOps {
  match_mapping?(args: DmaBufMatchArgs): Int | Promise<Int>;
  readonly single_exporter_match?: DmaBufMappingMatch;
  readonly map_dma_buf?: unknown;
  readonly unmap_dma_buf?: unknown;
  attach?(dmabuf: MatchDmaBuf, attach: MatchAttachment): Int;
  readonly release?: unknown;
}

export interface MatchDmaBuf {
  readonly name: string;
  readonly ops: MatchDmaBufOps;
  readonly priv: unknown;
  readonly resv: ResvLock;
  readonly attachments: Set<KObj<MatchAttachment>>;
  readonly obj: KObj<null>;
}

/** Tracepoints: which callbacks ran and which pair finished the match. */
export interface MatchTrace {
  offered?(exp: readonly DmaBufMappingMatch[]): void;
  called?(exp: DmaBufMappingMatch, imp: DmaBufMappingMatch, ret: Int): void;
  finished?(exp: DmaBufMappingMatch, imp: DmaBufMappingMatch): void;
}

/** pci_p2pdma_distance(provider, client, verbose): negative when P2P is impossible. */
export type P2pDistance = (provider: string, client: string | null) => number;

export const NO_SGT: SgtData = { importing_dma_device: null, exporting_p2p_device: null, importer_accepts_p2p: 'DMA_SGT_NO_P2P', exporter_requires_p2p: 'DMA_SGT_NO_P2P' };

export class DmaBufMatchCore {
  trace: MatchTrace = {};

  constructor(readonly k: Kernel, readonly profile: Profile, readonly pci_p2pdma_distance: P2pDistance) {}

  /** dma_buf_mapping_sgt_type. */
  readonly sgt_type: DmaBufMappingType = {
    name: 'DMA Mapped Scatter Gather Table',
    match: (d, e, i) => this.dma_buf_sgt_match(d, e, i),
    finish_match: (a, e, i) => this.dma_buf_sgt_finish_match(a, e, i),
  };

  /** dma_buf_mapping_pal_type (000 RFC 21/26): no match callback. */
  readonly pal_type: DmaBufMappingType = {
    name: 'Physical Address List',
    finish_match: (args, exp) => { args.attach.map_type = { type: this.pal_type, exp_ops: exp.exp_ops!, sgt_data: NO_SGT }; },
  };

  /** The importer-only iommu_domain type of the converter profile (004):
   *  only the PAL→iommu_domain converter finishes a match with it. */
  readonly iommu_domain_type: DmaBufMappingType = { name: 'IOMMU Domain', finish_match: () => undefined };

  /** dma_buf_sgt_exp_compat_match: DMA_BUF_EMAPPING_SGT(&dma_buf_sgt_compat_exp_ops). */
  compat_match(): DmaBufMappingMatch {
    return { type: this.sgt_type, exp_ops: { name: 'dma_buf_sgt_compat_exp_ops' }, sgt_data: NO_SGT };
  }

  /** The core converters of the profile (004); none before it. */
  converters(): readonly DmaBufConverter[] {
    const byName: Record<string, DmaBufMappingType> = { PAL: this.pal_type, SGT: this.sgt_type, IOMMU_DOMAIN: this.iommu_domain_type };
    return spec(this.profile).converters.map((c) => (c.to === 'SGT' ? this.palToSgtConverter(byName[c.from]!) : this.palToDomainConverter(byName[c.from]!)));
  }

  /** PAL→SGT: matches like an SGT exporter that requires P2P from the PAL exporter's device. */
  protected palToSgtConverter(from: DmaBufMappingType): DmaBufConverter {
    return {
      name: 'PAL→SGT', from, to: this.sgt_type,
      match: (d, e, i) => this.dma_buf_sgt_match(d, { ...e, sgt_data: { ...e.sgt_data, exporter_requires_p2p: 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' } }, i),
      finish_match: (args, e, i) => {
        const core_ops: ExpOps = { name: 'core:PAL→SGT' };
        this.dma_buf_sgt_finish_match(args, { ...e, exp_ops: core_ops, sgt_data: { ...e.sgt_data, exporter_requires_p2p: 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' } }, i);
        args.attach.map_type = { ...args.attach.map_type!, converter: 'PAL→SGT', conv_src: e.exp_ops! };
      },
    };
  }

  /** PAL→iommu_domain: no callback; the exporter's ops stay with the core. */
  protected palToDomainConverter(from: DmaBufMappingType): DmaBufConverter {
    return {
      name: 'PAL→IOMMU_DOMAIN', from, to: this.iommu_domain_type,
      finish_match: (args, e, i) => { args.attach.map_type = { type: this.iommu_domain_type, exp_ops: { name: 'core:PAL→IOMMU_DOMAIN' }, sgt_data: NO_SGT, converter: 'PAL→IOMMU_DOMAIN', conv_src: e.exp_ops!, ...(i.imp_priv ? { imp_priv: i.imp_priv } : {}) }; },
    };
  }

  /** A type an importer entry may be matched with directly: never the
   *  exporter's domain, and PAL only where the profile has PAL importers. */
  protected importable(type: DmaBufMappingType): boolean {
    if (type === this.iommu_domain_type) return false;
    return type !== this.pal_type || spec(this.profile).palImporters !== 'none';
  }

  protected callMatch(match: NonNullable<DmaBufMappingType['match']>, args: DmaBufMatchArgs, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch): Int {
    const ret = match(args.dmabuf, exp, imp);
    this.trace.called?.(exp, imp, ret);
    return ret;
  }

  protected finish(finish_match: DmaBufMappingType['finish_match'], args: DmaBufMatchArgs, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch): Int {
    finish_match(args, exp, imp);
    this.trace.finished?.(exp, imp);
    return 0;
  }

  /** dma_buf_match_mapping(): exporter order outer, importer order inner. */
  dma_buf_match_mapping(args: DmaBufMatchArgs, exp: readonly DmaBufMappingMatch[], exp_len: number): Int {
    this.trace.offered?.(exp.slice(0, exp_len));
    const convs = this.converters();
    for (let e = 0; e !== exp_len; e++) {
      for (let i = 0; i !== args.imp_len; i++) {
        const r = this.matchPair(args, exp[e]!, args.imp_matches[i]!, convs);
        if (r !== 'next') return r;
      }
    }
    return '-EINVAL';
  }

  /** The body of the loop for one (exporter, importer) pair: a result to return, or 'next'. */
  protected matchPair(args: DmaBufMatchArgs, x: DmaBufMappingMatch, imp: DmaBufMappingMatch, convs: readonly DmaBufConverter[]): Int | 'next' {
    let ops: Pick<DmaBufConverter, 'match' | 'finish_match'> = x.type;
    if (x.type !== imp.type) {
      const conv = convs.find((c) => c.from === x.type && c.to === imp.type);
      if (!conv) return 'next';
      ops = conv;
    } else if (!this.importable(x.type)) return 'next';
    if (ops.match) {
      const ret = this.callMatch(ops.match, args, x, imp);
      if (ret === '-EOPNOTSUPP') return 'next';
      if (ret !== 0) return ret;
    }
    return this.finish(ops.finish_match, args, x, imp);
  }

  /** dma_buf_sgt_match(). */
  protected dma_buf_sgt_match(_dmabuf: MatchDmaBuf, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch): Int {
    switch (exp.sgt_data.exporter_requires_p2p) {
      case 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE':
        if (!exp.sgt_data.exporting_p2p_device || imp.sgt_data.importer_accepts_p2p !== 'DMA_SGT_IMPORTER_ACCEPTS_P2P') return '-EOPNOTSUPP';
        if (this.pci_p2pdma_distance(exp.sgt_data.exporting_p2p_device, imp.sgt_data.importing_dma_device) < 0) return '-EOPNOTSUPP';
        return 0;
      default:
        return 0;
    }
  }

  /** dma_buf_sgt_finish_match(): the match, and attach->dev / peer2peer for unaware drivers. */
  protected dma_buf_sgt_finish_match(args: DmaBufMatchArgs, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch): void {
    const attach = args.attach;
    attach.map_type = {
      type: this.sgt_type,
      exp_ops: exp.exp_ops!,
      sgt_data: { importing_dma_device: imp.sgt_data.importing_dma_device, exporting_p2p_device: null, importer_accepts_p2p: imp.sgt_data.importer_accepts_p2p, exporter_requires_p2p: exp.sgt_data.exporter_requires_p2p },
    };
    attach.dev = imp.sgt_data.importing_dma_device;
    attach.peer2peer = attach.map_type.sgt_data.importer_accepts_p2p === 'DMA_SGT_IMPORTER_ACCEPTS_P2P';
  }

  /** dma_buf_export(): the ops checks of RFC 05/26, then the dma-buf. */
  dma_buf_export(name: string, ops: MatchDmaBufOps, priv: unknown): Result<MatchDmaBuf> {
    if (!priv || !ops.release) return { ok: false, errno: '-EINVAL' };
    if (!this.exportOpsValid(ops)) return { ok: false, errno: '-EINVAL' };
    const obj = this.k.heap.alloc('dma_buf', 'dma_buf_export', null);
    if (!obj) return { ok: false, errno: '-ENOMEM' };
    return { ok: true, value: { name, ops, priv, obj, resv: this.k.newResv(`${name}.resv`), attachments: new Set() } };
  }

  protected exportOpsValid(ops: MatchDmaBufOps): boolean {
    if (ops.match_mapping || ops.single_exporter_match) {
      if (ops.map_dma_buf || ops.unmap_dma_buf) return false;
      if (ops.match_mapping && ops.single_exporter_match) return false;
      return true;
    }
    return !!ops.map_dma_buf && !!ops.unmap_dma_buf;
  }

  /** dma_buf_mapping_attach(). */
  async dma_buf_mapping_attach(dmabuf: MatchDmaBuf, importer_matches: readonly DmaBufMappingMatch[], importer_ops: MatchAttachOps | null, importer_priv: unknown): Promise<Result<KObj<MatchAttachment>>> {
    const site = 'dma_buf_mapping_attach';
    if (!this.dynamicOpsValid(importer_ops)) return { ok: false, errno: '-EINVAL' };
    const attach = this.k.heap.alloc<MatchAttachment>('attachment', site, { dmabuf: null, dev: null, peer2peer: false, map_type: null, importer_ops: null, importer_priv: null });
    if (!attach) return { ok: false, errno: '-ENOMEM' };
    const args: DmaBufMatchArgs = { dmabuf, imp_matches: importer_matches, imp_len: importer_matches.length, attach: attach.value };
    let ret: Int;
    if (dmabuf.ops.match_mapping) ret = await dmabuf.ops.match_mapping(args);
    else ret = this.dma_buf_match_mapping(args, [dmabuf.ops.single_exporter_match ?? this.compat_match()], 1);
    if (ret === 0) {
      attach.value.dmabuf = dmabuf;
      attach.value.importer_ops = importer_ops;
      attach.value.importer_priv = importer_priv;
      ret = dmabuf.ops.attach?.(dmabuf, attach.value) ?? 0;
    }
    if (ret !== 0) {
      this.k.heap.free(attach, site);
      return { ok: false, errno: ret };
    }
    await dmabuf.resv.lock(site);
    dmabuf.attachments.add(attach);
    dmabuf.resv.unlock(site);
    return { ok: true, value: attach };
  }

  /** WARN_ON(importer_ops && !importer_ops->move_notify). */
  protected dynamicOpsValid(importer_ops: MatchAttachOps | null): boolean {
    return !(importer_ops && !importer_ops.move_notify);
  }

  /** dma_buf_detach(). */
  async dma_buf_detach(dmabuf: MatchDmaBuf, attach: KObj<MatchAttachment>): Promise<void> {
    const site = 'dma_buf_detach';
    await dmabuf.resv.lock(site);
    dmabuf.attachments.delete(attach);
    dmabuf.resv.unlock(site);
    this.k.heap.free(attach, site);
  }
}

/** DMA_BUF_EMAPPING_SGT_P2P(exp_ops, p2p_device) / DMA_BUF_EMAPPING_SGT(exp_ops). */
export function emappingSgt(core: DmaBufMatchCore, exp_ops: ExpOps, p2p_device: string | null, requiresP2P: boolean): DmaBufMappingMatch {
  return { type: core.sgt_type, exp_ops, sgt_data: { ...NO_SGT, exporting_p2p_device: requiresP2P ? p2p_device : null, exporter_requires_p2p: requiresP2P ? 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' : 'DMA_SGT_NO_P2P' } };
}

/** DMA_BUF_IMAPPING_SGT(dev, importer_accepts_p2p). */
export function imappingSgt(core: DmaBufMatchCore, dev: string | null, acceptsP2P: boolean): DmaBufMappingMatch {
  return { type: core.sgt_type, sgt_data: { ...NO_SGT, importing_dma_device: dev, importer_accepts_p2p: acceptsP2P ? 'DMA_SGT_IMPORTER_ACCEPTS_P2P' : 'DMA_SGT_NO_P2P' } };
}

/** DMA_BUF_EMAPPING_PAL(exp_ops); in the converter profile it names the P2P device the SGT converter maps from. */
export function emappingPal(core: DmaBufMatchCore, exp_ops: ExpOps, p2p_device: string | null = null): DmaBufMappingMatch {
  return { type: core.pal_type, exp_ops, sgt_data: { ...NO_SGT, exporting_p2p_device: p2p_device } };
}

/** DMA_BUF_IMAPPING_PAL(). */
export function imappingPal(core: DmaBufMatchCore): DmaBufMappingMatch {
  return { type: core.pal_type, sgt_data: NO_SGT };
}

/** dma_buf_pal_map_phys() (000 RFC 21/26): the reservation lock is held, and
 *  EXPORT_SYMBOL_FOR_MODULES(dma_buf_pal_map_phys, "iommufd") means no other
 *  module can link the call (the loader's check, reported as MATCH-RESTRICT). */
export function dma_buf_pal_map_phys(k: Kernel, attach: MatchAttachment, caller: string): ReturnType<PalExpOps['map_phys']> {
  const site = 'dma_buf_pal_map_phys';
  attach.dmabuf!.resv.assertHeld('LOCK-RESV', site);
  if (caller !== 'iommufd') k.report('MATCH-RESTRICT', `${caller} called ${site}, which only iommufd may link`, { caller });
  return attach.map_type!.exp_ops!.pal!.map_phys();
}

/** dma_buf_pal_unmap_phys(). */
export function dma_buf_pal_unmap_phys(attach: MatchAttachment, pal: KObj<readonly PhysVec[]>): void {
  attach.map_type!.exp_ops!.pal!.unmap_phys(pal);
}

/** A dma-buf of the simulated core seen through the RFC core, with the mapping-type ops its exporter gives it. */
export function asMatchDmaBuf(dmabuf: DmaBuf, ops: MatchDmaBufOps): MatchDmaBuf {
  // The attachment list is the dma-buf's own, so move_notify reaches mapping-type attachments too.
  const attachments = dmabuf.attachments as unknown as MatchDmaBuf['attachments'];
  return { name: dmabuf.name, ops, priv: dmabuf.priv, resv: dmabuf.resv, attachments, obj: dmabuf.obj };
}
