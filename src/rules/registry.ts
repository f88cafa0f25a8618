// The rule catalog in code: one entry per ID (../shared/RULES.md is its first
// draft). Every checker reports one of these IDs; `rules` and `explain` print
// them. `seed` names the seed file and patch the rule comes from.
import type { Profile } from '../../models/profiles.ts';

export type RuleFamily = 'ROUTE' | 'PAL' | 'LEN' | 'DMA' | 'LOCK' | 'REV' | 'UAF' | 'MATCH' | 'IOMMUFD' | 'PLUGIN';

export interface Rule {
  readonly id: string;
  readonly family: RuleFamily;
  readonly title: string;
  readonly seed: string;
  readonly profiles: readonly Profile[];
}

const ALL: readonly Profile[] = ['v8', 'rfc', 'converter', 'mainline'];

function rule(id: string, title: string, seed: string, profiles: readonly Profile[] = ALL): Rule {
  return { id, family: id.split('-')[0] as RuleFamily, title, seed, profiles };
}

export const RULES = [
  rule('ROUTE-MAPTYPE', 'pci_p2pdma_map_type(provider, client) equals the model: ACS redirect on the provider path up to and including the common bridge and the client path below it; none → BUS_ADDR; else THRU_HOST_BRIDGE if the CPU or the host-bridge allow list permits, else NOT_SUPPORTED', '002 v8 01-04/11; drivers/pci/p2pdma.c'),
  rule('ROUTE-DIST', 'distance equals the model (same function 0, two functions 2, two devices under one switch 4, +2 per hop); pci_p2pdma_distance_many of a list of clients is the sum of their distances, -1 with no clients or when any client cannot be reached', '002 v8 01-04/11; drivers/pci/p2pdma.c'),
  rule('ROUTE-BUSADDR', "a BUS_ADDR mapping's DMA address is paddr + bus_offset of that BAR's provider, and nothing else uses bus_offset", '002 v8 02/11'),
  rule('ROUTE-NOMAP', 'NOT_SUPPORTED / UNKNOWN yields -EINVAL and no mapping, no leak', '002 v8 06/11'),
  rule('ROUTE-PROVIDER', 'one provider per MEM BAR, created once by pcim_p2pdma_init, never for non-MEM BARs; pcim_p2pdma_provider on them returns NULL', '002 v8 03/11'),

  rule('PAL-INPUT', 'VFIO_DEVICE_FEATURE_DMA_BUF validation returns the model errno in the kernel order', '002 v8 10/11 vfio_pci_dmabuf.c'),
  rule('PAL-FILL', 'every entry is paddr = bar_start + offset, len = length, in request order; overlaps and duplicates kept', '002 v8 10/11 vfio_pci_dmabuf.c'),
  rule('PAL-SIZE', 'dma-buf size equals the sum of the lengths, computed in u64', '002 v8 10/11 vfio_pci_dmabuf.c'),
  rule('PAL-UNWIND', 'a VFIO_DEVICE_FEATURE_DMA_BUF that fails leaves nothing allocated: priv, phys_vec and the dma-buf freed, the registration put, by the unwind before dma_buf_export() and by dma_buf_put() alone after it', '002 v8 10/11 vfio_pci_dmabuf.c ("dma_buf_put() now frees priv"; err_dev_put, err_free_phys, err_free_priv)'),
  rule('PAL-LIST', 'a PAL returned to an importer has length entries, each inside the exporter BARs, unchanged until unmapped', '000 RFC 21/26'),

  rule('LEN-SEG', "every DMA segment has 0 < len ≤ the profile's max segment size", '002 v8 06/11 dma_buf_phys_vec_to_sgt'),
  rule('LEN-SUM', 'the segment lengths add up to the dma-buf size exactly', '002 v8 06/11 dma_buf_phys_vec_to_sgt'),
  rule('LEN-NENTS', 'the table has exactly nents entries, none unused, nents fits u32; overflow is -EINVAL, never a wrapped table', '002 v8 06/11 dma_buf_phys_vec_to_sgt'),
  rule('LEN-ALIGN', 'addresses and lengths are PAGE_SIZE aligned, as documented', '002 v8 06/11 dma_buf_phys_vec_to_sgt'),
  rule('LEN-NOCPU', 'no page/CPU list: every sg_page NULL, orig_nents == 0', '002 v8 06/11 dma_buf_phys_vec_to_sgt'),
  rule('LEN-ADDR', "the segments cover exactly the model's DMA ranges (BUS_ADDR per range, IOVA one span, fallback one map per range)", '002 v8 06/11 dma_buf_phys_vec_to_sgt'),

  rule('DMA-UNMAP', 'every unmap matches a live mapping: same address, size and direction; no double unmap; no unmap of an entry never mapped', '002 v8 06/11; DMA-API debug'),
  rule('DMA-ERRCHECK', 'every dma_map_phys result is checked with dma_mapping_error before use', '002 v8 06/11; DMA-API debug'),
  rule('DMA-IOVA', 'IOVA links never overlap, stay within the allocation, are synced before use and destroyed with their size', '002 v8 06/11; DMA-API debug'),
  rule('DMA-UNWIND', 'a failed conversion leaves zero live mappings and frees all it allocated; a successful one is undone exactly by dma_buf_free_sgt', '002 v8 06/11'),
  rule('DMA-LEAK', 'no mapping is live after its attachment is unmapped or detached', '002 v8 06/11'),

  rule('LOCK-RESV', "attachment map/unmap, dma_buf_pal_map_phys, vfio_pci_dma_buf_iommufd_map and dma_buf_move_notify run with the dma-buf's reservation lock held", '002 v8 10/11; 000; 003'),
  rule('LOCK-MEMLOCK', 'vfio_pci_dma_buf_move runs with memory_lock held for write; cleanup takes it itself', '002 v8 10/11'),
  rule('LOCK-ORDER', 'memory_lock is always taken before any resv, never the reverse', '002 v8 10/11'),
  rule('LOCK-BALANCE', 'every operation returns with the locks it took released', '002 v8 10/11'),

  rule('REV-INIT', 'a new dma-buf is revoked iff device memory is disabled at export', '002 v8 10/11'),
  rule('REV-MAP', 'map, attach and private-interconnect map on a revoked dma-buf fail -ENODEV and create nothing; attach without peer2peer fails -EOPNOTSUPP', '002 v8 10/11; 003'),
  rule('REV-NOTIFY', 'each revoke/unrevoke transition calls move_notify once for every live attachment with resv held; no transition, no call', '002 v8 10/11'),
  rule('REV-WINDOW', "between zap/disable and re-enable no importer holds a usable mapping of the device's MMIO", '002 v8 10/11'),
  rule('REV-CLEANUP', 'after device close every dma-buf is revoked forever, detached from the device, holding no device reference', '002 v8 10/11'),
  rule('REV-IMPORTER', 'an importer that cannot fault (iommufd) accepts only revoke-capable exporters; with revoke it never sees a real move', '003'),

  rule('REV-DRAIN', 'a revoke waits for every mapping of the dma-buf to be unmapped before it returns: the drain count (a kref of live mappings) never underflows and every wait_for_completion() ends; close drains only what a revoke has not drained', 'mainline vfio_pci_dmabuf.c: 1a8a5227f229 "vfio: Wait for dma-buf invalidation to complete"; its 7.1-rc fix', ['mainline']),
  rule('REV-PIN', 'dma_buf_pin and dma_buf_unpin pair: no unpin without a pin, every pin undone before detach', 'mainline dma-buf.c dma_buf_pin/dma_buf_unpin; a42ec590c0b0 "iommufd: Add dma_buf_pin()"', ['mainline']),
  rule('UAF-OBJ', 'no access to a freed object (priv, phys_vec, sg_table, PAL, attachment, dma-buf, provider)', '002 v8 10/11'),
  rule('UAF-REF', 'the registration taken at export is put once, by release or cleanup; get_file_active references are dropped as taken', '002 v8 10/11'),
  rule('UAF-DYING', 'move and cleanup skip a dma-buf whose file is already dying', '002 v8 10/11'),
  rule('UAF-MAPPING', 'no importer uses an SGT or PAL after it was unmapped or after the move_notify that invalidated it', '002 v8 10/11; 000'),

  rule('MATCH-ORDER', 'exporter list order wins, importer order breaks ties; callback 0 matches, -EOPNOTSUPP skips, any other error aborts; no match or empty list -EINVAL', '001 RFC 00/26', ['rfc', 'converter']),
  rule('MATCH-EXPORT', 'an exporter supplies match_mapping xor legacy map/unmap', '001 RFC 00/26', ['rfc', 'converter']),
  rule('MATCH-DYNAMIC', 'importer ops without move_notify are -EINVAL', '001 RFC 00/26', ['rfc', 'converter']),
  rule('MATCH-LEGACY', 'a legacy exporter offers exactly [SGT(NO_P2P)]', '001 RFC 00/26', ['rfc', 'converter']),
  rule('MATCH-P2P', 'an SGT exporter that needs P2P matches only importers that allow P2P and whose route is not NOT_SUPPORTED', '001 RFC 00/26', ['rfc', 'converter']),
  rule('MATCH-RESTRICT', 'only iommufd may import PAL (rfc); in the converter profile no importer is offered PAL', '000 RFC 21/26; 004', ['rfc', 'converter']),
  rule('MATCH-CONVERT', 'a converter result equals the direct path: PAL→SGT segments, PAL→iommu_domain exactly the PAL ranges with MMIO; the exporter never sees the domain', '004', ['converter']),
  rule('MATCH-CLEANED', 'after VFIO cleanup, match_mapping is -ENODEV', '001 RFC; 002 v8 10/11', ['rfc', 'converter']),

  rule('IOMMUFD-ONE', 'private interconnect: iommufd gets the one range of a single-range VFIO dma-buf; a dma-buf another exporter made -EOPNOTSUPP, nr_ranges ≠ 1 -EOPNOTSUPP', '003', ['v8', 'mainline']),
  rule('IOMMUFD-MMIO', 'ranges are mapped into the domain with the MMIO flag exactly once per (area, domain), unmapped on revoke and detach', '003; RFC 23-24/26'),
  rule('IOMMUFD-REVOKED', 'a revoked pages object maps nothing and, in v8, stays revoked', '003'),

  rule('PLUGIN-THROW', 'a plugin hook threw instead of returning an errno', 'DESIGN.md conventions'),
  rule('PLUGIN-TIMEOUT', 'a plugin hook did not return within the step time-out, whether it awaits forever or spins synchronously', 'DESIGN.md conventions'),
  rule('PLUGIN-EXIT', 'the implementation ended its process or thread (process.exit, a crash); the run goes on with the next case', 'DESIGN.md conventions'),
  rule('PLUGIN-GLOBAL', "the implementation changed the JavaScript built-ins the checkers rely on (a patched Set.prototype.has hides violations)", 'DESIGN.md conventions'),
] as const satisfies readonly Rule[];

export type RuleId = (typeof RULES)[number]['id'];

const BY_ID = new Map<string, Rule>(RULES.map((r) => [r.id, r]));

export function isRuleId(s: string): s is RuleId {
  return BY_ID.has(s);
}

export function getRule(id: RuleId): Rule {
  return BY_ID.get(id)!;
}
