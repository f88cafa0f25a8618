// A module resolve hook (node:module register), plain JavaScript so that it
// runs in the loader thread without a transpiler: the bare specifier
// 'dmabuf-conform' is this copy of the tool's own entry, wherever the plugin
// importing it lives, so plugin and runner share one module graph.
let entry = '';

/** @param {{ entry: string }} data */
export function initialize(data) {
  entry = data.entry;
}

/** @param {string} specifier @param {unknown} context @param {(s: string, c: unknown) => Promise<unknown>} next */
export async function resolve(specifier, context, next) {
  if (specifier === 'dmabuf-conform') return next(entry, context);
  return next(specifier, context);
}
