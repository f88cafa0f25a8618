// Taking the kernel's C out of a tree, a patch or an mbox series, unmodified:
// the post-image of each hunk (added and context lines, markers stripped) or
// the whole file, split into top-level items (functions, struct/union/enum
// definitions, declarations, #defines) with their first line in the kernel
// file. A unit asks for the functions it drives; the items they reference
// (static helpers, structs, macros) come along, in file order. Nothing is
// edited: an item is a span of the source's own lines.
import { readFileSync } from 'node:fs';

/** Post-image lines of one file, from `firstLine` on (1-based, as in the kernel file). */
export interface Fragment {
  readonly path: string;
  readonly firstLine: number;
  readonly lines: readonly string[];
  /** Where it came from: 'tree' or the patch file and line of its hunk. */
  readonly origin: string;
  /** A hunk the text cuts short (see `cutOf`): its header, the post-image lines it announces and those present. */
  readonly cut?: { readonly header: string; readonly lines: number; readonly of: number; readonly atEnd: boolean };
}

export type ItemKind = 'function' | 'type' | 'macro' | 'decl' | 'proto';

/** One top-level item of a fragment. */
export interface Item {
  readonly name: string;
  readonly kind: ItemKind;
  readonly path: string;
  /** First line of the item in the kernel file. */
  readonly line: number;
  readonly lines: readonly string[];
  readonly origin: string;
  /** Identifiers the item mentions (outside comments and strings). */
  readonly refs: ReadonlySet<string>;
  /** Order among all items given to `selectItems`: later patches override earlier ones. */
  readonly seq: number;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const DIFF = /^diff --git a\/(\S+) b\/(\S+)/;

/** The post-image hunks of every file a patch or mbox changes (quoted replies, `> +...`, are not hunks). */
export function patchFragments(text: string, origin: string): Fragment[] {
  const lines = text.split('\n');
  // The text's last newline ends its last line: the empty string after it is no line of a hunk.
  const end = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  const out: Fragment[] = [];
  // Hunks ended before their lines (by the next diff, hunk or signature) owing as many old lines as new:
  // this text drops blank context lines (mail archives do), which a hunk the text's end cuts may also owe.
  let dropsBlanks = false;
  const owing: { at: number; atEnd: boolean; oldLeft: number; newLeft: number; header: string; of: number; newFile: boolean }[] = [];
  let path: string | null = null;
  for (let i = 0; i < end; i++) {
    const l = lines[i]!;
    const d = DIFF.exec(l);
    if (d) { path = d[2]!; continue; }
    const h = HUNK.exec(l);
    if (!h || !path) continue;
    let oldLeft = h[2] === undefined ? 1 : Number(h[2]);
    let newLeft = h[4] === undefined ? 1 : Number(h[4]);
    const post: string[] = [];
    const at = i + 1;
    let leading = -1; // context lines before the first change
    while ((oldLeft > 0 || newLeft > 0) && i + 1 < end) {
      const n = lines[i + 1]!;
      if (DIFF.test(n) || HUNK.test(n) || /^-- ?$/.test(n)) break;
      i++;
      if (n.startsWith('\\')) continue; // "\ No newline at end of file"
      if ((n.startsWith('+') || n.startsWith('-')) && leading < 0) leading = post.length;
      if (n.startsWith('+')) { post.push(n.slice(1)); newLeft--; }
      else if (n.startsWith('-')) oldLeft--;
      else { post.push(n.startsWith(' ') ? n.slice(1) : n); oldLeft--; newLeft--; }
    }
    // Mail archives drop the blank context line before a hunk's first change
    // (a diff has three context lines); put the blank lines back so line
    // numbers match the kernel file. Whitespace only: no code changes.
    const blanks = Math.min(newLeft, leading >= 0 && Number(h[3]) > 1 ? 3 - leading : 0);
    if (blanks > 0) post.splice(leading, 0, ...Array<string>(blanks).fill(''));
    if (oldLeft > 0 || newLeft > 0) {
      const atEnd = i + 1 >= end;
      if (!atEnd && oldLeft === newLeft) dropsBlanks = true;
      const of = h[4] === undefined ? 1 : Number(h[4]);
      owing.push({ at: out.length, atEnd, oldLeft: Math.max(0, oldLeft), newLeft: Math.max(0, newLeft), header: h[0], of, newFile: h[1] === '0' && h[2] === '0' });
    }
    out.push({ path, firstLine: Number(h[3]), lines: post, origin: `${origin}:${at}` });
  }
  // A hunk is cut when the text ends inside it, or when it adds a new file and lacks lines (a new
  // file's hunk has no context lines an archive could drop) -- unless all it owes at the text's end
  // is as many old lines as new in a text that drops blank context lines elsewhere and ends with a
  // newline (such a cut inside a hunk's context cannot be told from the archive's dropped lines).
  for (const o of owing) {
    // A text that stops mid-line (no final newline) was cut wherever it stops.
    const droppedBlanks = dropsBlanks && o.oldLeft === o.newLeft && !o.newFile && !(o.atEnd && end === lines.length);
    if (!(o.newFile || o.atEnd) || droppedBlanks) continue;
    const f = out[o.at]!;
    out[o.at] = { ...f, cut: { header: o.header, lines: o.of - o.newLeft, of: o.of, atEnd: o.atEnd } };
  }
  return out;
}

/** One line naming a hunk the patch cuts short (a hunk shorter than its header says), or null. */
export function cutOf(f: Fragment): string | null {
  if (!f.cut) return null;
  const where = f.cut.atEnd ? 'the patch ends inside a hunk of' : 'the patch cuts short the new-file hunk of';
  return `${f.origin}: ${where} ${f.path} (${f.cut.header}): ${f.cut.lines} of ${f.cut.of} lines; the patch is cut (give the whole patch or mbox)`;
}

/** A whole file of a tree as one fragment. */
export function fileFragment(path: string, text: string): Fragment {
  return { path, firstLine: 1, lines: text.split('\n'), origin: 'tree' };
}

/** Read a patch or mbox file: its fragments, or null when it cannot be read. */
export function readPatch(file: string): Fragment[] | null {
  try {
    return patchFragments(readFileSync(file, 'utf8'), file);
  } catch {
    return null;
  }
}

const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'return', 'do', 'else', 'sizeof', 'case', 'goto']);

/** Code with comments, string and char literals blanked (same length, newlines kept). */
export function blankNonCode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    const two = text.slice(i, i + 2);
    if (two === '/*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (two === '//') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += c + ' '.repeat(Math.max(0, Math.min(j, text.length) - i - 1)) + (j < text.length ? c : '');
      i = Math.min(j + 1, text.length);
    } else {
      out += c;
      i++;
    }
  }
  return out.slice(0, text.length);
}

function identifiers(code: string): Set<string> {
  return new Set(code.match(/[A-Za-z_]\w*/g) ?? []);
}

/** Name and kind of one top-level item's code (comments blanked), or null for what no unit can ask for. */
function nameOf(code: string, isFunctionBody: boolean): { name: string; kind: ItemKind } | null {
  const t = code.trim();
  if (t.startsWith('#')) {
    const m = /^#\s*define\s+(\w+)/.exec(t);
    return m ? { name: m[1]!, kind: 'macro' } : null;
  }
  const typeDef = /^(?:typedef\s+)?(struct|union|enum)\s+(\w+)\s*\{/.exec(t);
  if (typeDef && !isFunctionBody) return { name: typeDef[2]!, kind: 'type' };
  const eq = depth0Index(t, '=');
  const paren = depth0Index(t, '(');
  if (paren >= 0 && (eq < 0 || paren < eq)) {
    const m = /(\w+)\s*$/.exec(t.slice(0, paren));
    if (!m || KEYWORDS.has(m[1]!)) return null;
    return { name: m[1]!, kind: isFunctionBody ? 'function' : 'proto' };
  }
  const end = eq >= 0 ? eq : t.search(/[[;]/);
  // An array's name comes before its brackets: `... } pci_p2pdma_whitelist[] = {`.
  const m = /(\w+)\s*$/.exec(t.slice(0, end < 0 ? t.length : end).replace(/(?:\s*\[[^\]]*\])+\s*$/, ''));
  return m && !KEYWORDS.has(m[1]!) ? { name: m[1]!, kind: 'decl' } : null;
}

function depth0Index(code: string, ch: string): number {
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (c === '(' || c === '[' || c === '{') {
      if (c === ch && depth === 0) return i;
      depth++;
    } else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ch && depth === 0) return i;
  }
  return -1;
}

/** Split a fragment into top-level items; a span cut off by the fragment's end is no item. */
export function splitItems(f: Fragment, seq0 = 0): Item[] {
  const text = f.lines.join('\n');
  const code = blankNonCode(text);
  const lineAt: number[] = [];
  for (let i = 0, line = 0; i <= code.length; i++) {
    lineAt.push(line);
    if (code[i] === '\n') line++;
  }
  const items: Item[] = [];
  const push = (start: number, end: number, isFunctionBody: boolean) => {
    const n = nameOf(code.slice(start, end), isFunctionBody);
    if (!n) return;
    const first = lineAt[start]!;
    const last = lineAt[end - 1]!;
    items.push({ ...n, path: f.path, line: f.firstLine + first, lines: f.lines.slice(first, last + 1), origin: f.origin, refs: identifiers(code.slice(start, end)), seq: seq0 + items.length });
  };
  let i = 0;
  while (i < code.length) {
    while (i < code.length && /\s/.test(code[i]!)) i++;
    if (i >= code.length) break;
    const start = i;
    if (code[i] === '#') {
      while (i < code.length && code[i] !== '\n') i += code[i] === '\\' && code[i + 1] === '\n' ? 2 : 1;
      push(start, i, false);
      continue;
    }
    let depth = 0;
    let fnBody = false;
    let done = false;
    for (; i < code.length && !done; i++) {
      const c = code[i]!;
      if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') depth--;
      else if (c === '{') {
        if (depth === 0) {
          const head = code.slice(start, i);
          fnBody = depth0Index(head, '(') >= 0 && depth0Index(head, '=') < 0 && !/^\s*(typedef\s+)?(struct|union|enum)\b[^(]*$/.test(head);
        }
        depth++;
      } else if (c === '}') {
        depth--;
        if (depth === 0 && fnBody) { push(start, i + 1, true); done = true; }
      } else if (c === ';' && depth === 0) { push(start, i + 1, false); done = true; }
      if (depth < 0) done = true; // the fragment began inside a body: resynchronise
    }
  }
  return items;
}

const KIND_RANK: Record<ItemKind, number> = { function: 4, type: 3, macro: 2, decl: 1, proto: 0 };

/** Every definition by name: a definition beats a prototype, a later patch beats an earlier one. */
export function indexItems(items: readonly Item[]): Map<string, Item> {
  const by = new Map<string, Item>();
  for (const it of items) {
    const had = by.get(it.name);
    if (!had || KIND_RANK[it.kind] > KIND_RANK[had.kind] || (KIND_RANK[it.kind] === KIND_RANK[had.kind] && it.seq > had.seq)) by.set(it.name, it);
  }
  return by;
}

/** The items of `roots` and everything they reference among `index`, in source order;
 *  names in `exclude` are never taken (the shim stands in for the calls that use them). */
export function selectItems(index: ReadonlyMap<string, Item>, roots: readonly string[], exclude: readonly string[] = []): Item[] {
  const picked = new Map<string, Item>();
  for (const x of exclude) picked.set(x, undefined as unknown as Item);
  const todo = roots.filter((r) => index.has(r));
  while (todo.length) {
    const name = todo.pop()!;
    if (picked.has(name)) continue;
    const it = index.get(name)!;
    picked.set(name, it);
    for (const r of it.refs) if (r !== name && index.has(r) && !picked.has(r)) todo.push(r);
  }
  return [...new Set(picked.values())].filter((it) => it !== undefined).sort((a, b) => a.seq - b.seq);
}

/** Items of several fragments, numbered in the order given. */
export function itemsOf(fragments: readonly Fragment[]): Item[] {
  const all: Item[] = [];
  for (const f of fragments) all.push(...splitItems(f, all.length));
  return all.map((it, seq) => ({ ...it, seq }));
}

/** The C text of the selected items, each after a #line naming its kernel file and line. */
export function renderItems(items: readonly Item[]): string {
  return items.map((it) => `#line ${it.line} "${it.path}"\n${it.lines.join('\n')}\n`).join('');
}

/** A hunk a mail archive has run together: its `diff --git` line also holds the
 *  `@@ ... @@` header and the first lines, so no line of it can be read as a
 *  diff line. */
export interface MangledHunk {
  readonly path: string;
  /** The hunk header as written, e.g. `@@ -82,6 +82,40 @@`. */
  readonly header: string;
  /** Post-image lines the header announces. */
  readonly newLines: number;
  /** Functions the hunk adds (a `+` marker, a type, a name and `(`). */
  readonly functions: readonly string[];
  readonly origin: string;
}

/** The mangled hunks of a patch or mbox: what can be read from them (file, header, the functions
 *  they add); their lines cannot be recovered without editing the text, so they are never compiled. */
export function mangledHunks(text: string, origin: string): MangledHunk[] {
  const out: MangledHunk[] = [];
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    const m = /^diff --git a\/(\S+) b\/\S+ .*?(@@ -\d+(?:,\d+)? \+\d+(?:,(\d+))? @@)/.exec(l);
    if (!m) return;
    // The hunk's text runs until the next diff line.
    let end = i + 1;
    while (end < lines.length && !/^diff --git /.test(lines[end]!)) end++;
    const body = [l.slice(l.indexOf(m[2]!) + m[2]!.length), ...lines.slice(i + 1, end)].join('\n');
    const fns = [...body.matchAll(/\+(?:static\s+)?(?:int|void|bool|long|struct\s+\w+\s*\*?)\s*\*?\s*(\w+)\(/gm)].map((x) => x[1]!);
    out.push({ path: m[1]!, header: m[2]!, newLines: m[3] === undefined ? 1 : Number(m[3]), functions: [...new Set(fns)], origin: `${origin}:${i + 1}` });
  });
  return out;
}
