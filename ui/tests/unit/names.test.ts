import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { Name, Sentence } from '../../src/components/Names';
import { listParts, sentenceText } from '../../src/lib/names';
import { typingParts, typingText } from '../../src/store/typing';

const SPOOF = '\u202eevil';

describe('names are isolated from the text around them (issue #13 item 10)', () => {
  it('renders a name in a <bdi>', () => {
    expect(renderToStaticMarkup(createElement(Name, null, SPOOF))).toBe(`<bdi>${SPOOF}</bdi>`);
  });

  it('renders every name of a sentence in its own <bdi> and the rest as text', () => {
    const html = renderToStaticMarkup(createElement(Sentence, { parts: typingParts([SPOOF, 'Bo']) }));
    expect(html).toBe(`<bdi>${SPOOF}</bdi> and <bdi>Bo</bdi> are typing…`);
  });

  it('keeps the plain-text sentences as they were', () => {
    expect(typingText(['Ana', 'Bo', 'Cy'])).toBe('Ana, Bo and Cy are typing…');
    expect(typingText(['Ana', 'Bo', 'Cy', 'Di', 'Ed'])).toBe('Ana, Bo and 3 others are typing…');
    expect(sentenceText(['Read by ', ...listParts(['Ana', 'Bo'])])).toBe('Read by Ana and Bo');
  });
});
