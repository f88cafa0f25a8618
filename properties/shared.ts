// ../shared: the folder beside the checkout that holds what this repository must not copy (the kernel
// patch series the suite was written from, ../shared/seeds; real machines' lspci dumps,
// ../shared/topologies/lspci). CI has it; a fresh clone does not, and the tests that read it are
// skipped. Each such test carries a mark in its name (NEEDS_SEEDS, NEEDS_LSPCI), and the reporter
// (properties/shared-reporter.ts) says once, at the end, which folder was missing and how many tests it
// skipped. DMABUF_SHARED=DIR reads another folder (DMABUF_SHARED=/nonexistent: a fresh clone's run).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SHARED = resolve(ROOT, process.env.DMABUF_SHARED ?? join('..', 'shared'));
/** The seeds: the patch series (002 v8, 003, 004 ...) the kernel C tests compile and the passages quote. */
export const SEEDS = join(SHARED, 'seeds');
export const HAVE_SEEDS = existsSync(SEEDS);
/** Real machines' lspci dumps. */
export const LSPCI = join(SHARED, 'topologies', 'lspci');
export const HAVE_LSPCI = existsSync(LSPCI);

/** The marks in the names of the tests that read them. */
export const NEEDS_SEEDS = '[needs ../shared/seeds]';
export const NEEDS_LSPCI = '[needs ../shared/topologies/lspci]';

/** What each folder is, for the reporter's line: [mark, folder, present, what needs it]. */
export const SHARED_FOLDERS: readonly (readonly [string, string, boolean, string])[] = [
  [NEEDS_SEEDS, SEEDS, HAVE_SEEDS, 'the kernel C tests (they compile the seeds\' C) and the check of the seed passages'],
  [NEEDS_LSPCI, LSPCI, HAVE_LSPCI, 'the lspci tests on real machines\' dumps'],
];
