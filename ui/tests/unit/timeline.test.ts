import { describe, expect, it } from 'vitest';
import { arrivalsAfter, buildRows, BURST_GAP_MS, lastId } from '../../src/lib/timeline';
import type { PendingMessage } from '../../src/store/messages';
import type { Message } from '../../src/wire/types';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const now = new Date(T0 + 3_600_000);
function m(id: number, sender: string, atMs = T0 + id * 1000, cmid = `cm-${id}`): Message {
  return {
    id,
    seq: id,
    room: 'r1',
    sender,
    body: `b${id}`,
    client_msg_id: cmid,
    created_at: new Date(atMs).toISOString(),
    edited_at: null,
    deleted: false,
    reply_to: null,
    mentions: [],
    reactions: [],
    attachments: [],
  };
}
function p(cmid: string, atMs: number): PendingMessage {
  return {
    client_msg_id: cmid,
    room: 'r1',
    sender: 'ana',
    body: 'mine',
    created_at: new Date(atMs).toISOString(),
    state: 'pending',
  };
}

describe('timeline rows', () => {
  it('one header per burst: same sender, within the gap, no unread mark between', () => {
    const rows = buildRows(
      [
        m(1, 'bo'),
        m(2, 'bo'),
        m(3, 'ana'),
        m(4, 'bo'),
        m(5, 'bo', T0 + 5000 + BURST_GAP_MS + 1),
        m(6, 'bo', T0 + 5000 + BURST_GAP_MS + 2),
      ],
      [],
      6,
      'ana',
      now,
    );
    expect(rows.map((r) => r.first)).toEqual([true, false, true, true, true, true]);
    expect(rows.map((r) => r.unreadMark)).toEqual([false, false, false, false, false, true]);
  });
  it('a new day starts a burst and a date divider', () => {
    const rows = buildRows([m(1, 'bo', T0 - 86_400_000), m(2, 'bo')], [], null, 'ana', now);
    expect(rows.map((r) => [r.first, r.divider])).toEqual([
      [true, 'Yesterday'],
      [true, 'Today'],
    ]);
  });
  it('our message keeps its key from pending to confirmed (no remount, no lost height)', () => {
    const before = buildRows([m(1, 'bo')], [p('cm-x', T0 + 2000)], null, 'ana', now);
    const after = buildRows([m(1, 'bo'), m(2, 'ana', T0 + 2000, 'cm-x')], [], null, 'ana', now);
    expect(before.map((r) => r.key)).toEqual(['m1', 'ccm-x']);
    expect(after.map((r) => r.key)).toEqual(['m1', 'ccm-x']);
    expect(after[1]!.first).toBe(true);
  });
  it('a pending copy of a message already confirmed is shown once', () => {
    const rows = buildRows([m(2, 'ana', T0, 'cm-x')], [p('cm-x', T0)], null, 'ana', now);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.msg?.id).toBe(2);
  });
});

describe('the "N new messages" pill count', () => {
  // Seen at the bottom after the reconnect scenario of issue 15: 36 messages from bo were
  // loaded and seen, ours was pending; the ack confirms it and bo's timeline is reloaded.
  const history = Array.from({ length: 36 }, (_, i) => m(i + 1, 'bo'));
  it('counts nothing when our pending message is confirmed or the same page is reloaded', () => {
    const seen = lastId(history);
    expect(arrivalsAfter([...history, m(37, 'ana', T0 + 40_000, 'cm-x')], seen, 'ana')).toBe(0);
    expect(arrivalsAfter([...history.map((x) => ({ ...x })), m(37, 'ana')], seen, 'ana')).toBe(0);
  });
  it('counts only messages from others after the last one seen', () => {
    expect(arrivalsAfter([...history, m(37, 'ana'), m(38, 'bo'), m(39, 'bo')], 36, 'ana')).toBe(2);
    expect(arrivalsAfter([], 0, 'ana')).toBe(0);
  });
});
