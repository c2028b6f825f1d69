import { createElement, memo, useMemo, type ReactNode } from 'react';
import { parseMarkdown, type MdNode } from '../lib/markdown';

function render(nodes: MdNode[]): ReactNode[] {
  return nodes.map((n, i) => {
    if (typeof n === 'string') return n;
    if (n.tag === 'a')
      return (
        <a key={i} href={n.attrs.href} title={n.attrs.title} target="_blank" rel="noopener noreferrer">
          {render(n.children)}
        </a>
      );
    if (n.tag === 'ol') return createElement('ol', { key: i, start: n.attrs.start }, ...render(n.children));
    return createElement(n.tag, { key: i }, ...render(n.children));
  });
}

/**
 * A message's text with Markdown formatting (see lib/markdown.ts). Every
 * element is built by React from an allowed tag; text stays text, so no
 * markup in a message can ever become HTML.
 */
export const MessageBody = memo(function MessageBody({ text }: { text: string }) {
  const tree = useMemo(() => render(parseMarkdown(text)), [text]);
  return (
    <div className="msg-body" data-testid="message-body">
      {tree}
    </div>
  );
});
