// Seeded bug (ROUTE-NOMAP): the switch over pci_p2pdma_map_type() treats
// NOT_SUPPORTED like BUS_ADDR and maps what cannot be reached.
import { kernelWith, withKernel } from './conversion-helpers.ts';

export const routeNomapDefaultBus = withKernel('bug:route-nomap-default-bus', 'ROUTE-NOMAP', (k) => kernelWith(k, {
  p2pdmaMapType: (p, d) => (k.p2pdmaMapType(p, d) === 'THRU_HOST_BRIDGE' ? 'THRU_HOST_BRIDGE' : 'BUS_ADDR'),
}));
