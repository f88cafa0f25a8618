#!/usr/bin/env node
// Entry point. The build (dist/, made by `npm run build`, which `npm ci` runs
// through `prepare`) starts without a TypeScript transpile; a checkout whose
// sources are newer than its build runs the sources through tsx instead.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.built');

/** Is any source file newer than the build? */
function stale(since) {
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).some((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : statSync(p).mtimeMs > since;
  });
  return ['src', 'models'].some((d) => existsSync(join(root, d)) && walk(join(root, d)));
}

// A reader that stops early (`| head`) closes the pipe: the rest of the output goes nowhere and the
// command finishes as it would have (its reports, its exit code), with no stack trace.
const readerGone = (e) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
};
process.stdout.on('error', readerGone);
process.stderr.on('error', readerGone);

let main;
if (existsSync(stamp) && !stale(statSync(stamp).mtimeMs)) {
  ({ main } = await import(pathToFileURL(join(root, 'dist', 'src', 'cli.js')).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(join(root, 'src', 'cli.ts')).href));
}
process.exitCode = await main(process.argv.slice(2));
