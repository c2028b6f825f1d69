/**
 * Message formatting: Markdown read by marked's lexer into a small tree of
 * allowed elements, which the view turns into React elements. No HTML string
 * is ever produced or parsed (marked's HTML renderer is never used), so
 * nothing in a message can become markup:
 *
 * - Raw HTML is off: the block and inline HTML rules are switched off, so
 *   `<b>` is lexed as plain text. Also off: headings, tables, rules,
 *   indented code, link definitions; in a chat they are mostly accidents
 *   (`# 3`, `---`, four spaces).
 * - Kept: bold, italic, strikethrough, inline code, fenced code blocks,
 *   quotes, lists, links (`[text](url)`, `<url>`, bare URLs and addresses),
 *   backslash escapes, and single newlines as line breaks (kept as text).
 * - Only the tags of `MdTag` are ever built; any other token keeps its text.
 * - A link is kept only when its URL is absolute http, https or mailto
 *   (`safeLink`); otherwise its text stays and the link goes. An image
 *   becomes a link to it, never an <img> (nothing is fetched).
 */
import { Marked, type Token, type Tokens } from 'marked';

export type MdTag = 'p' | 'strong' | 'em' | 's' | 'code' | 'pre' | 'blockquote' | 'ul' | 'ol' | 'li' | 'a';

export interface MdElement {
  tag: MdTag;
  /** Only `href` (links), `title` (links) and `start` (ordered lists) are ever set. */
  attrs: { href?: string; title?: string; start?: number };
  children: MdNode[];
}
export type MdNode = string | MdElement;

const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** The URL itself when it is absolute http(s) with a host, or mailto with an address; else null. */
export function safeLink(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (!LINK_PROTOCOLS.has(u.protocol)) return null;
  if (u.protocol === 'mailto:' ? !u.pathname.includes('@') : !u.hostname) return null;
  return u.href;
}

const off = () => undefined;
const marked = new Marked({ gfm: true, breaks: true });
marked.use({
  tokenizer: {
    html: off,
    tag: off,
    heading: off,
    lheading: off,
    hr: off,
    table: off,
    code: off,
    def: off,
    reflink: off,
  },
});

const el = (tag: MdTag, children: MdNode[], attrs: MdElement['attrs'] = {}): MdElement => ({ tag, attrs, children });

function inline(tokens: Token[] | undefined, out: MdNode[]): MdNode[] {
  for (const t of tokens ?? []) {
    const push = (n: MdNode) => {
      const last = out[out.length - 1];
      if (typeof n === 'string' && typeof last === 'string') out[out.length - 1] = last + n;
      else if (n !== '') out.push(n);
    };
    switch (t.type) {
      case 'strong':
        push(el('strong', inline(t.tokens, [])));
        break;
      case 'em':
        push(el('em', inline(t.tokens, [])));
        break;
      case 'del':
        push(el('s', inline(t.tokens, [])));
        break;
      case 'codespan':
        push(el('code', [(t as Tokens.Codespan).text]));
        break;
      case 'br':
        // A newline, not <br>: the body is pre-wrap, and copied text keeps its lines.
        push('\n');
        break;
      case 'link':
      case 'image': {
        const l = t as Tokens.Link | Tokens.Image;
        const href = safeLink(l.href);
        const kids = t.type === 'image' ? [(t as Tokens.Image).text] : inline(l.tokens, []);
        if (!href) {
          for (const k of kids) push(k);
          break;
        }
        push(el('a', kids, l.title ? { href, title: l.title } : { href }));
        break;
      }
      default: {
        // text, escape, and anything else: its text, never markup.
        const g = t as Tokens.Generic;
        if (g.tokens?.length) for (const k of inline(g.tokens, [])) push(k);
        else push(typeof g.text === 'string' ? g.text : g.raw);
      }
    }
  }
  return out;
}

function blocks(tokens: Token[], out: MdNode[]): MdNode[] {
  for (const t of tokens) {
    switch (t.type) {
      case 'space':
        break;
      case 'paragraph':
        out.push(el('p', trimEnd(inline(t.tokens, []))));
        break;
      case 'code':
        out.push(el('pre', [el('code', [(t as Tokens.Code).text])]));
        break;
      case 'blockquote':
        out.push(el('blockquote', blocks(t.tokens ?? [], [])));
        break;
      case 'list': {
        const l = t as Tokens.List;
        const items = l.items.map((i) => el('li', trimEnd(blocks(i.tokens, []))));
        const start = typeof l.start === 'number' && l.start !== 1 ? { start: l.start } : {};
        out.push(el(l.ordered ? 'ol' : 'ul', items, start));
        break;
      }
      case 'text': {
        // A tight list item's text: inline content straight in the <li>.
        const g = t as Tokens.Text;
        inline(g.tokens?.length ? g.tokens : [{ type: 'text', raw: g.raw, text: g.text }], out);
        break;
      }
      default:
        // Anything else that slips through is shown as typed.
        out.push(el('p', [t.raw.trim()]));
    }
  }
  return out;
}

/** A block's text ends at its last character: the newline before the next block is not content. */
function trimEnd(nodes: MdNode[]): MdNode[] {
  const last = nodes[nodes.length - 1];
  if (typeof last === 'string') {
    const t = last.replace(/\n+$/, '');
    if (t) nodes[nodes.length - 1] = t;
    else nodes.pop();
  }
  return nodes;
}

/** Parse `text` into the allowed tree. Pure; no DOM. */
export function parseMarkdown(text: string): MdNode[] {
  return blocks(marked.lexer(text), []);
}
