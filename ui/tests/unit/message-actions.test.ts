import { describe, expect, it } from 'vitest';
import { asTombstone, MessagesStore, withEdit, withReaction } from '../../src/store/messages';
import { msg } from './fakes';

const base = () => msg(1, 10, 'r1', 'bo', 'hello @ana');

describe('edits, deletions and reactions on a loaded message', () => {
  it('applies an edit with its time and mentions', () => {
    const m = withEdit(base(), 'hi', '2026-11-25T10:01:00.000Z', ['ana']);
    expect([m.body, m.edited_at, m.mentions]).toEqual(['hi', '2026-11-25T10:01:00.000Z', ['ana']]);
    expect(withEdit(asTombstone(m), 'back?', 't', [])).toEqual(asTombstone(m)); // a tombstone stays one
  });

  it('makes a tombstone that keeps only who and when', () => {
    const m = withReaction({ ...base(), reply_to: 3 }, '👍', 'ana', true);
    const t = asTombstone(m);
    expect(t).toEqual({ ...base(), body: '', deleted: true, mentions: [] });
    expect([t.id, t.seq, t.sender, t.created_at]).toEqual([m.id, m.seq, m.sender, m.created_at]);
  });

  it('toggles reactions idempotently, keeping chip and user order', () => {
    let m = withReaction(base(), '👍', 'ana', true);
    m = withReaction(m, '❤️', 'cy', true);
    m = withReaction(m, '👍', 'cy', true);
    expect(withReaction(m, '👍', 'cy', true)).toBe(m); // already on: the same object
    expect(m.reactions).toEqual([
      { emoji: '👍', users: ['ana', 'cy'] },
      { emoji: '❤️', users: ['cy'] },
    ]);
    m = withReaction(withReaction(m, '👍', 'ana', false), '❤️', 'cy', false);
    expect(m.reactions).toEqual([{ emoji: '👍', users: ['cy'] }]);
    expect(withReaction(m, '🎉', 'ana', false)).toBe(m);
  });

  it('patches only a loaded message', () => {
    const s = new MessagesStore();
    s.setLatestPage('r1', [base()], false);
    s.patch('r1', 1, asTombstone);
    s.patch('r1', 99, asTombstone);
    s.patch('r2', 1, asTombstone);
    expect(s.timeline('r1').messages.map((m) => [m.id, m.deleted])).toEqual([[1, true]]);
    expect(s.timeline('r2').loaded).toBe(false);
  });
});
