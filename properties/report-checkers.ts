// Test-only readers for the rendered reports: a strict little XML parser
// (well-formedness: one root, nesting, quoted unique attributes, known
// entities, only XML 1.0 characters), an HTML tag skeleton, the kunit_parser
// TAP line grammar and the GFM table-row splitter.

export interface XmlNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly (XmlNode | string)[];
}

const NAME = '[A-Za-z_:][\\w:.-]*';
const ATTR = `(${NAME})\\s*=\\s*("[^"<]*"|'[^'<]*')`;
const START = new RegExp(`<(${NAME})((?:\\s+${ATTR})*)\\s*(/?)>`, 'y');
const END = new RegExp(`</(${NAME})\\s*>`, 'y');
const COMMENT = /<!--(?:(?!--)[\s\S])*-->/y;
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Character data with its references resolved, or an error. */
function decode(s: string): string {
  if (FORBIDDEN.test(s)) throw new Error(`a character XML forbids: ${JSON.stringify(s.match(FORBIDDEN)![0])}`);
  return s.replace(/&([^;&]*);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new Error('a bare &');
    if (ref in NAMED) return NAMED[ref]!;
    const code = /^#x([0-9a-fA-F]+)$/.exec(ref)?.[1] ?? /^#([0-9]+)$/.exec(ref)?.[1];
    if (code === undefined) throw new Error(`unknown entity ${m}`);
    const cp = ref.startsWith('#x') ? parseInt(code, 16) : Number(code);
    const ch = String.fromCodePoint(cp);
    if (FORBIDDEN.test(ch) || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error(`a reference to a forbidden character ${m}`);
    return ch;
  });
}

function attributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(new RegExp(ATTR, 'g'))) {
    if (m[1]! in out) throw new Error(`duplicate attribute ${m[1]}`);
    out[m[1]!] = decode(m[2]!.slice(1, -1));
  }
  return out;
}

/** Parse a whole XML document (prolog optional): the root element, or an error. */
export function parseXml(xml: string): { ok: true; root: XmlNode } | { ok: false; error: string } {
  let i = xml.startsWith('<?xml') ? xml.indexOf('?>') + 2 : 0;
  const stack: { name: string; attrs: Record<string, string>; children: (XmlNode | string)[] }[] = [];
  let root: XmlNode | undefined;
  const at = (re: RegExp) => ((re.lastIndex = i), re.exec(xml));
  try {
    while (i < xml.length) {
      let m: RegExpExecArray | null;
      if ((m = at(COMMENT))) i = COMMENT.lastIndex;
      else if ((m = at(END))) {
        const top = stack.pop();
        if (!top || top.name !== m[1]) throw new Error(`</${m[1]}> closes <${top?.name ?? 'nothing'}>`);
        i = END.lastIndex;
        if (stack.length === 0) root = top;
        else stack.at(-1)!.children.push(top);
      } else if ((m = at(START))) {
        if (stack.length === 0 && root) throw new Error(`a second root <${m[1]}>`);
        const node = { name: m[1]!, attrs: attributes(m[2]!), children: [] as (XmlNode | string)[] };
        i = START.lastIndex;
        if (m[m.length - 1] !== '/') stack.push(node);
        else if (stack.length === 0) root = node;
        else stack.at(-1)!.children.push(node);
      } else {
        const end = xml.indexOf('<', i + 1);
        const raw = xml.slice(i, end < 0 ? xml.length : end);
        if (raw.startsWith('<')) throw new Error(`a stray < at ${JSON.stringify(xml.slice(i, i + 20))}`);
        if (raw.includes(']]>')) throw new Error(']]> in character data');
        const text = decode(raw);
        if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${JSON.stringify(text.slice(0, 20))}`);
        stack.at(-1)?.children.push(text);
        i += raw.length;
      }
    }
    if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
    if (!root) throw new Error('no root element');
    return { ok: true, root };
  } catch (e) {
    return { ok: false, error: `at offset ${i}: ${(e as Error).message}` };
  }
}

export function elements(n: XmlNode, name: string): XmlNode[] {
  return [...(n.name === name ? [n] : []), ...n.children.flatMap((c) => (typeof c === 'string' ? [] : elements(c, name)))];
}

export function textOf(n: XmlNode): string {
  return n.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}

export interface HtmlTag {
  readonly name: string;
  readonly end: boolean;
  readonly attrs: readonly (readonly [string, string])[];
}

/**
 * The tags of an HTML page in order, script/style bodies skipped. Throws on
 * a `<` that starts no tag, or an attribute that is not name or name="value".
 */
export function htmlTags(html: string): HtmlTag[] {
  const out: HtmlTag[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*(\/?)>|<!doctype html>|<!--[\s\S]*?-->/iy;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(html);
    if (!m) throw new Error(`a < that starts no tag: ${JSON.stringify(html.slice(lt, lt + 40))}`);
    i = tag.lastIndex;
    if (!m[2]) continue;
    const name = m[2].toLowerCase();
    const attrs = [...(m[3] ?? '').matchAll(/([\w:-]+)(?:="([^"]*)")?/g)].map((a) => [a[1]!, a[2] ?? ''] as const);
    out.push({ name, end: m[1] === '/', attrs });
    if (!m[1] && (name === 'script' || name === 'style')) {
      const close = html.indexOf(`</${name}>`, i);
      if (close < 0) throw new Error(`<${name}> is never closed`);
      i = close;
    }
  }
  return out;
}

/** `name[attr,attr]` for each start tag, `/name` for each end tag. */
export function htmlSkeleton(html: string): string[] {
  return htmlTags(html).map((t) => (t.end ? `/${t.name}` : `${t.name}[${t.attrs.map(([k]) => k).sort().join(',')}]`));
}

/** Every URL-bearing attribute value of the page's tags. */
export function urlAttributes(html: string): string[] {
  const urlish = new Set(['src', 'href', 'action', 'formaction', 'poster', 'data', 'xlink:href', 'srcset', 'background']);
  return htmlTags(html).flatMap((t) => t.attrs.filter(([k]) => urlish.has(k.toLowerCase())).map(([, v]) => v));
}

/** tools/testing/kunit/kunit_parser.py: TEST_RESULT and TEST_RESULT_SKIP. */
export const TAP_RESULT = /^\s*(ok|not ok) ([0-9]+) (- )?([^#]*)( # .*)?$/;
export const TAP_RESULT_SKIP = /^\s*(ok|not ok) ([0-9]+) (- )?(.*) # SKIP(.*)$/;

/** The cells of a GFM table row: `\` escapes the next character, an unescaped `|` splits. */
export function gfmCells(row: string): string[] {
  const cells: string[] = [];
  let cur = '';
  for (let i = 0; i < row.length; i++) {
    const c = row[i]!;
    if (c === '\\' && i + 1 < row.length) cur += c + row[++i]!;
    else if (c === '|') cells.push(cur), (cur = '');
    else cur += c;
  }
  cells.push(cur);
  return cells.slice(1, -1);
}
