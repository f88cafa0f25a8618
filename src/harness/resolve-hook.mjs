// A module resolve hook (node:module register), plain JavaScript so that it
// runs in the loader thread without a transpiler: the bare specifier
// 'dmabuf-conform' is this copy of the tool's own entry, wherever the plugin
// importing it lives, so plugin and runner share one module graph; and a
// plugin's own TypeScript is an ES module even in a folder with no
// package.json (which would make it CommonJS, unable to import the entry).
// A plugin's `.js` is an ES module when it is written as one (an import or
// export statement), whatever the folder says: in a folder with no
// package.json Node takes a `.js` for CommonJS, and loading an ES `.js` so
// failed ("Cannot require() ES Module ... in a cycle"). A `.js` without
// them stays CommonJS (its require('dmabuf-conform') is load.ts's).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let entry = '';

/** @param {{ entry: string }} data */
export function initialize(data) {
  entry = data.entry;
}

/** An import or export statement at the start of a line (not `import(`, which CommonJS has too). */
const ESM_SYNTAX = /^[ \t]*(?:import[ \t]*(?:[\w*{]|["'])|export[ \t]+(?:default\b|const\b|let\b|var\b|function\b|class\b|async\b|\{|\*))/m;

/** @param {string} url */
function writtenAsModule(url) {
  try {
    return ESM_SYNTAX.test(readFileSync(fileURLToPath(url), 'utf8'));
  } catch {
    return false;
  }
}

/** @param {string} specifier @param {unknown} context @param {(s: string, c: unknown) => Promise<unknown>} next */
export async function resolve(specifier, context, next) {
  const r = await next(specifier === 'dmabuf-conform' ? entry : specifier, context);
  const url = /** @type {{ url: string, format?: string }} */ (r).url;
  if (url.includes('/node_modules/') || !url.startsWith('file:')) return r;
  if (/\.m?ts$/.test(url)) return { ...r, format: 'module' };
  if (/\.js$/.test(url) && /** @type {{ format?: string }} */ (r).format !== 'module' && writtenAsModule(url)) return { ...r, format: 'module' };
  return r;
}
