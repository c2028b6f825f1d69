import { describe, expect, it } from 'vitest';
import { linkify, safeHref } from '../../src/lib/linkify';

describe('linkify', () => {
  it('links http(s) URLs and leaves trailing punctuation out', () => {
    expect(linkify('see https://example.com/a?b=1, ok.')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: ', ok.' },
    ]);
  });
  it('keeps balanced parentheses', () => {
    const segs = linkify('(https://en.wikipedia.org/wiki/Foo_(bar))');
    expect(segs[1]).toMatchObject({ kind: 'link', text: 'https://en.wikipedia.org/wiki/Foo_(bar)' });
  });
  it('never links other schemes, and keeps markup as text', () => {
    const text = 'javascript:alert(1) <img src=x onerror=alert(1)> data:text/html,x';
    expect(linkify(text)).toEqual([{ kind: 'text', text }]);
    expect(safeHref('javascript:alert(1)')).toBeNull();
  });
});
