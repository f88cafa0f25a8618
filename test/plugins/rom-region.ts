// A user's one-line bug: the VFIO create path accepts the ROM region
// (`region_index > VFIO_PCI_ROM_REGION_INDEX` where the kernel has `>=`).
// Expected: PAL-INPUT (the model says -ENODEV for region 6).
import { vfioExporter } from 'dmabuf-conform';

export default vfioExporter('user-rom-region', 'create accepts region 6, the ROM', {
  createOps: { region_index_valid: (region) => region <= 6 }, // BUG: < VFIO_PCI_ROM_REGION_INDEX
});
