// A module resolve hook (node:module register), plain JavaScript so that it
// runs in the loader thread without a transpiler: the bare specifier
// 'dmabuf-conform' is this copy of the tool's own entry, wherever the plugin
// importing it lives, so plugin and runner share one module graph; and a
// plugin's own TypeScript is an ES module even in a folder with no
// package.json (which would make it CommonJS, unable to import the entry).
let entry = '';

/** @param {{ entry: string }} data */
export function initialize(data) {
  entry = data.entry;
}

/** @param {string} specifier @param {unknown} context @param {(s: string, c: unknown) => Promise<unknown>} next */
export async function resolve(specifier, context, next) {
  const r = await next(specifier === 'dmabuf-conform' ? entry : specifier, context);
  const url = /** @type {{ url: string }} */ (r).url;
  if (/\.m?ts$/.test(url) && !url.includes('/node_modules/')) return { ...r, format: 'module' };
  return r;
}
