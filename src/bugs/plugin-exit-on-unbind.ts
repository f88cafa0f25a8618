// Seeded bug (PLUGIN-EXIT): a driver's unbind path that ends the process
// (a user-space stand-in for a BUG() or a panic in the remove path) instead
// of returning. The run must go on with the next case and report it.
// Seed: DESIGN.md "a plugin that hangs, exits or crashes is a finding, not the end of the run".
import type { DeviceEvent } from '../../models/lifecycle.ts';
import { vfioExporter } from '../harness/bundled.ts';
import { VfioPciCore } from '../impl/vfio/vfio_pci_core.ts';

class ExitOnUnbind extends VfioPciCore {
  override async event(e: DeviceEvent): Promise<string> {
    if (e === 'unbind') process.exit(0); // BUG: ends the process
    return super.event(e);
  }
}

export const pluginExitOnUnbind = vfioExporter('bug:plugin-exit-on-unbind', 'unbind ends the process', { device: ExitOnUnbind, bugOf: 'PLUGIN-EXIT' });
