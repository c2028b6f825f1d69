import type { ReactNode } from 'react';
import type { Part } from '../lib/names';

/**
 * Names are text other people chose. Each is rendered in a <bdi>, so that
 * its direction never leaks into the text around it: a right-to-left
 * override (U+202E) in a name cannot turn the words after it around ("evil"
 * shown as "live"). The server refuses such characters in new names; this
 * also covers names stored before that rule, and right-to-left scripts.
 */
export function Name({ children }: { children: string }): ReactNode {
  return <bdi>{children}</bdi>;
}

/** Renders a sentence of text and names (lib/names `Part`), each name in a <bdi>. */
export function Sentence({ parts }: { parts: Part[] }): ReactNode {
  return <>{parts.map((p, i) => (typeof p === 'string' ? p : <bdi key={i}>{p.name}</bdi>))}</>;
}
