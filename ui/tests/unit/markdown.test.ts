import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { MessageBody } from '../../src/components/MessageBody';
import { parseMarkdown, safeLink } from '../../src/lib/markdown';

/** The inner HTML React renders for a message body. */
function html(text: string): string {
  return renderToStaticMarkup(createElement(MessageBody, { text }))
    .replace(/^<div class="msg-body" data-testid="message-body">/, '')
    .replace(/<\/div>$/, '');
}
const A = (href: string, text = href) => `<a href="${href}" target="_blank" rel="noopener noreferrer">${text}</a>`;

describe('formatting: each construct', () => {
  it('plain text is one paragraph, with single newlines kept as line breaks', () => {
    expect(html('hello\nworld')).toBe('<p>hello\nworld</p>');
    expect(parseMarkdown('hi')).toEqual([{ tag: 'p', attrs: {}, children: ['hi'] }]);
  });
  it('bold, italic and strikethrough, alone and nested', () => {
    expect(html('**bold** __also__')).toBe('<p><strong>bold</strong> <strong>also</strong></p>');
    expect(html('*it* _it_')).toBe('<p><em>it</em> <em>it</em></p>');
    expect(html('~~gone~~')).toBe('<p><s>gone</s></p>');
    expect(html('**bold *and it* ~~x~~**')).toBe('<p><strong>bold <em>and it</em> <s>x</s></strong></p>');
  });
  it('snake_case words and lone asterisks stay as typed', () => {
    expect(html('my_var_name and 2 * 3 * 4')).toBe('<p>my_var_name and 2 * 3 * 4</p>');
  });
  it('inline code keeps its content literally, markup included', () => {
    expect(html('run `a **b** <i>c</i>`')).toBe('<p>run <code>a **b** &lt;i&gt;c&lt;/i&gt;</code></p>');
  });
  it('fenced code blocks keep whitespace and are not formatted', () => {
    expect(html('```js\nconst a = 1;\n  *b*\n```')).toBe('<pre><code>const a = 1;\n  *b*</code></pre>');
  });
  it('indented text is not a code block (an accident in chat); its spaces stay', () => {
    expect(html('    four spaces')).toBe('<p>    four spaces</p>');
  });
  it('quotes, with formatting inside', () => {
    expect(html('> quoted **text**\n\nreply')).toBe(
      '<blockquote><p>quoted <strong>text</strong></p></blockquote><p>reply</p>',
    );
  });
  it('blocks without blank lines between them carry no stray newline', () => {
    expect(html('text\n> quote\n- a\n- b\n```\ncode\n```')).toBe(
      '<p>text</p><blockquote><p>quote</p></blockquote><ul><li>a</li><li>b</li></ul><pre><code>code</code></pre>',
    );
  });
  it('bullet and numbered lists, with their start number', () => {
    expect(html('- one\n- *two*')).toBe('<ul><li>one</li><li><em>two</em></li></ul>');
    expect(html('3. c\n4. d')).toBe('<ol start="3"><li>c</li><li>d</li></ol>');
    expect(html('1. a\n2. b')).toBe('<ol><li>a</li><li>b</li></ol>');
  });
  it('links: [text](url), <url>, bare URLs and e-mail addresses; all open safely in a new tab', () => {
    expect(html('[docs](https://example.com/a?b=1&c=2)')).toBe(
      `<p>${A('https://example.com/a?b=1&amp;c=2', 'docs')}</p>`,
    );
    expect(html('<https://example.com>')).toBe(`<p>${A('https://example.com/', 'https://example.com')}</p>`);
    expect(html('see https://example.com/x, ok.')).toBe(
      `<p>see ${A('https://example.com/x', 'https://example.com/x')}, ok.</p>`,
    );
    expect(html('(https://en.wikipedia.org/wiki/Foo_(bar))')).toBe(
      `<p>(${A('https://en.wikipedia.org/wiki/Foo_(bar)')})</p>`,
    );
    expect(html('mail ana@example.com')).toBe(`<p>mail ${A('mailto:ana@example.com', 'ana@example.com')}</p>`);
    expect(html('[t](https://example.com "A title")')).toBe(
      '<p><a href="https://example.com/" title="A title" target="_blank" rel="noopener noreferrer">t</a></p>',
    );
  });
  it('headings, tables and rules are not formatted; an image is a link to it, never loaded', () => {
    expect(html('# 3 people')).toBe('<p># 3 people</p>');
    expect(html('| a | b |\n| - | - |\n| 1 | 2 |')).toBe('<p>| a | b |\n| - | - |\n| 1 | 2 |</p>');
    expect(html('![x](https://example.com/a.png)')).toBe(`<p>${A('https://example.com/a.png', 'x')}</p>`);
    expect(html('---')).toBe('<p>---</p>');
    expect(html('&amp; &lt;')).toBe('<p>&amp;amp; &amp;lt;</p>');
  });
  it('a backslash escapes a marker', () => {
    expect(html('\\*not italic\\*')).toBe('<p>*not italic*</p>');
  });
});

describe('formatting: nothing becomes HTML, no unsafe link', () => {
  const attacks = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '**<b onclick=alert(1)>x</b>**',
    '*<svg onload=alert(1)>*',
    '~~<iframe src=javascript:alert(1)>~~',
    '`</code><script>alert(1)</script>`',
    '```\n</code></pre><script>alert(1)</script>\n```',
    '> <style>*{display:none}</style>',
    '- <a href="javascript:alert(1)">x</a>',
    '1. <details open ontoggle=alert(1)>',
    '[<img src=x onerror=alert(1)>](https://example.com)',
    '> - **`<script>`** ~~<b>~~',
    '<!-- comment --><div>block</div>',
  ];
  for (const text of attacks) {
    it(`keeps ${JSON.stringify(text)} as text`, () => {
      const out = html(text);
      expect(out).not.toMatch(/<(script|img|b |svg|iframe|style|details|a href="j)/i);
      expect(out).toContain('&lt;');
    });
  }
  const badLinks = [
    '[x](javascript:alert(1))',
    '[x](JaVaScRiPt:alert(1))',
    '[x](java\tscript:alert(1))',
    '[x](&#106;avascript:alert(1))',
    '[x](data:text/html;base64,PHNjcmlwdD4=)',
    '[x](vbscript:msgbox)',
    '[x](file:///etc/passwd)',
    '[x](/relative)',
    '[x](//example.com)',
    '<javascript:alert(1)>',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
  ];
  for (const text of badLinks) {
    it(`makes no link of ${JSON.stringify(text)}`, () => {
      expect(html(text)).not.toContain('<a');
    });
  }
  it('a title cannot break out of its attribute', () => {
    const out = html('[t](https://example.com "\\" onmouseover=\\"alert(1)")');
    expect(out).toMatch(
      /^<p><a href="https:\/\/example.com\/" title="[^"]*" target="_blank" rel="noopener noreferrer">t<\/a><\/p>$/,
    );
  });
  it('safeLink accepts only absolute http, https and mailto', () => {
    expect(safeLink('https://example.com')).toBe('https://example.com/');
    expect(safeLink('mailto:a@example.com')).toBe('mailto:a@example.com');
    expect(safeLink('mailto:nobody')).toBeNull();
    expect(safeLink('http://')).toBeNull();
    expect(safeLink(' javascript:alert(1)')).toBeNull();
    expect(safeLink('ftp://example.com')).toBeNull();
  });
});
