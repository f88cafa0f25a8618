// Building block for the seeded PAL bugs: the VFIO create path with one of
// its steps replaced.
import { createOps, vfioDmaBufPhysFromRequest, type CreateOps } from '../impl/vfio/dmabuf_phys.ts';
import type { PalImpl } from '../rules/pal.ts';
import type { RuleId } from '../rules/registry.ts';

export function palBug(name: string, bugOf: RuleId, ops: Partial<CreateOps>): PalImpl {
  return { name, bugOf, create: (view, req) => vfioDmaBufPhysFromRequest(view, req, { ...createOps(view), ...ops }) };
}
