// Loading plugins: a bundled one by name, or a module by path. Every plugin
// kind loads the same way, and the user's module shares this runner's module
// instances: `.ts` files go through tsx registered once for the process (no
// per-import namespace, which would give a plugin private copies of every
// module), and the bare specifier 'dmabuf-conform' resolves to the entry of
// this very copy of the tool (src/index.ts, or dist/index.js when built), so a
// plugin needs no install of its own.
import { existsSync } from 'node:fs';
import Module, { register } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isProfile, PROFILES } from '../../models/profiles.ts';
import { UsageError } from '../commands/usage.ts';
import { everyPlugin } from './catalog.ts';
import { PLUGIN_KINDS, type Plugin, type PluginKind } from './plugin.ts';
import { noteSource } from './plugin-source.ts';

/** What each kind must provide besides kind, name, description and profiles: [member, what it is]. */
const NEEDS: Readonly<Record<PluginKind, readonly [string, string][]>> = {
  exporter: [['probe', 'probe(kernel, device)']],
  importer: [['attach', 'attach(kernel, dmabuf, exporter, opts)']],
  route: [['create', 'create(topology) giving the p2pdma implementation']],
  pal: [['create', 'create(view, request) giving a PAL or an errno']],
  conversion: [['map', 'map(kernel, attach, provider, phys, size, dir)'], ['unmap', 'unmap(kernel, attach, dma, dir)']],
  match: [['make', 'make(kernel, profile, distance) giving a match core']],
  converter: [['make', 'make(kernel) giving the core converters']],
};

/** Validate what a plugin module exports: one clear line naming the problem. */
export function checkPluginShape(p: unknown, where: string): Plugin {
  if (!p || typeof p !== 'object') throw new UsageError(`${where}: the module's default export is not a plugin object`);
  const o = p as Record<string, unknown>;
  if (!PLUGIN_KINDS.includes(o.kind as PluginKind)) throw new UsageError(`${where}: plugin.kind must be one of ${PLUGIN_KINDS.join(', ')}; got ${JSON.stringify(o.kind)}`);
  if (typeof o.name !== 'string' || !o.name) throw new UsageError(`${where}: plugin.name must be a non-empty string`);
  if (typeof o.description !== 'string' || !o.description.trim()) throw new UsageError(`${where}: plugin.description must say what the plugin is (a non-empty string)`);
  if (!Array.isArray(o.profiles) || o.profiles.length === 0 || !o.profiles.every((x) => typeof x === 'string' && isProfile(x))) throw new UsageError(`${where}: plugin.profiles must list profiles among ${PROFILES.join(', ')}`);
  for (const [member, what] of NEEDS[o.kind as PluginKind]) if (typeof o[member] !== 'function') throw new UsageError(`${where}: ${a(String(o.kind))} plugin needs ${what}`);
  if (o.kind === 'importer' && o.importer !== 'dma' && o.importer !== 'iommufd') throw new UsageError(`${where}: an importer plugin needs importer: 'dma' or 'iommufd'`);
  if (o.kind === 'conversion' && o.limit !== 'uint-max' && o.limit !== 'page-aligned') throw new UsageError(`${where}: a conversion plugin needs limit: 'uint-max' or 'page-aligned' (its maximum segment size, models/sgt.ts)`);
  return p as Plugin;
}

/** 'an exporter', 'a route'. */
const a = (kind: string) => `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;

/** The CommonJS loader's resolver, which Node 20 offers no public hook for (module.register hooks only
 *  the ES loader). */
type Resolver = (request: string, ...rest: unknown[]) => string;
const CJS = Module as unknown as { _resolveFilename: Resolver; _cache: Record<string, unknown> };

let hooked = false;
/** tsx for .ts modules and the 'dmabuf-conform' specifier, registered once per thread: for ES modules
 *  (`import`) by the resolve hook, for a CommonJS plugin's `require('dmabuf-conform')` by the CommonJS
 *  resolver, which answers the very namespace the ES modules import (one module graph, not a copy). */
async function hook(): Promise<void> {
  if (hooked) return;
  hooked = true;
  const entry = new URL(/\.ts$/.test(import.meta.url) ? '../index.ts' : '../index.js', import.meta.url).href;
  register(new URL('./resolve-hook.mjs', import.meta.url), { data: { entry } });
  if (!/\.ts$/.test(import.meta.url)) (await import('tsx/esm/api')).register(); // from source tsx is already registered
  const ns: unknown = await import(entry);
  const id = `${fileURLToPath(entry)}#require`;
  const m = new Module(id);
  Object.assign(m, { filename: id, exports: ns, loaded: true });
  CJS._cache[id] = m;
  const resolveFilename = CJS._resolveFilename;
  CJS._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === 'dmabuf-conform' ? id : resolveFilename.call(this, request, ...rest);
  };
}

/** A module's default export; a .ts module compiled as CommonJS may wrap it once more. */
function defaultExport(mod: { default?: unknown }): unknown {
  const d = mod.default;
  return d && typeof d === 'object' && 'default' in d && !('kind' in d) ? (d as { default: unknown }).default : d;
}

/** The first line of a load error; for a transform (syntax) error, the line that says where. */
function loadError(e: unknown): string {
  const lines = (e instanceof Error ? e.message : String(e)).split('\n').filter(Boolean);
  if (/^require is not defined in ES module scope/.test(lines[0] ?? '')) return 'it uses require() in an ES module (import/export): write a .js plugin as one or the other (README, "Testing your own implementation")';
  return lines[0]!.startsWith('Transform failed') && lines[1] ? lines[1] : lines[0] ?? String(e);
}

/**
 * A plugin by bundled name or module path (.ts, .mts, .js, .mjs), default export.
 * @param spec a bundled plugin's name (`dmabuf-conform plugins`) or a path
 * @param flag how the user gave it, for the error line (`--exporter`, `--plugin`)
 * @param kind the kind it must be, when the flag says
 * @throws UsageError one line: no such file or name, a load (syntax) error with file:line:col, a bad shape
 */
export async function loadPlugin(spec: string, flag: string, kind?: PluginKind): Promise<Plugin> {
  const carried = everyPlugin();
  const bundled = carried.find((p) => p.name === spec);
  if (bundled) {
    if (kind && bundled.kind !== kind) throw new UsageError(`${flag} ${spec}: that bundled plugin is ${a(bundled.kind)}`);
    noteSource(bundled, `${flag} ${spec} (bundled)`);
    return bundled;
  }
  const path = isAbsolute(spec) ? spec : resolve(spec);
  const names = carried.filter((p) => (!kind || p.kind === kind) && !p.name.startsWith('bug:')).map((p) => p.name);
  if (!existsSync(path)) throw new UsageError(`${flag} ${spec}: no such file, and no bundled plugin of that name (bundled: ${names.join(', ')}, and the bug:* seeded bugs)`);
  let mod: { default?: unknown };
  try {
    await hook();
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    throw new UsageError(`${flag} ${spec}: the plugin failed to load: ${loadError(e)}`);
  }
  const p = checkPluginShape(defaultExport(mod), `${flag} ${spec}`);
  if (kind && p.kind !== kind) throw new UsageError(`${flag} ${spec}: the plugin is ${a(p.kind)}, not ${a(kind)}`);
  noteSource(p, `${flag} ${spec}`);
  return p;
}
