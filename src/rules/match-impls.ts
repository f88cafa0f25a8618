// Every match core the suite checks: the faithful RFC port, then one seeded bug per file of src/bugs/match-*.ts.
import { matchCallbackMismatched } from '../bugs/match-callback-mismatched.ts';
import { matchDynamicUnchecked } from '../bugs/match-dynamic-unchecked.ts';
import { matchErrorsSwallowed } from '../bugs/match-errors-swallowed.ts';
import { matchExportBoth } from '../bugs/match-export-both.ts';
import { matchImporterPriority } from '../bugs/match-importer-priority.ts';
import { matchLegacyP2p } from '../bugs/match-legacy-p2p.ts';
import { matchP2pIgnored } from '../bugs/match-p2p-ignored.ts';
import { matchPalAnyImporter } from '../bugs/match-pal-any-importer.ts';
import { RFC_MATCH_CORE, type MatchImpl } from './match.ts';

export const MATCH_BUGS: readonly MatchImpl[] = [
  matchImporterPriority, matchErrorsSwallowed, matchCallbackMismatched, matchP2pIgnored,
  matchPalAnyImporter, matchExportBoth, matchLegacyP2p, matchDynamicUnchecked,
];

export const MATCH_IMPLS: readonly MatchImpl[] = [RFC_MATCH_CORE, ...MATCH_BUGS];
