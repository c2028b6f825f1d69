/**
 * The rows of a room's timeline, as pure functions of the loaded messages,
 * the pending ones and our username (the view only lays them out).
 *
 * Invariants:
 * - A row's key never changes while it stays on screen. Our own messages are
 *   keyed by their `client_msg_id`, which the pending row and the confirmed
 *   message share, so confirming one does not remount it or lose its measured
 *   height (the virtual list caches heights by key). Others' rows are keyed
 *   by message id.
 * - A burst is consecutive messages by one sender, each within `BURST_GAP_MS`
 *   of the one before, on one day, with no "New messages" mark inside. Only
 *   the first row of a burst has a header (avatar, name, time).
 */
import type { PendingMessage } from '../store/messages';
import type { Message, MessageId, Username } from '../wire/types';
import { dayLabel, parseTime, sameDay } from './time';

export const BURST_GAP_MS = 5 * 60 * 1000;

export interface Row {
  key: string;
  msg: Message | null; // null for a pending message
  pending: PendingMessage | null;
  sender: Username;
  body: string;
  created_at: string;
  /** First row of a burst: shows the header. */
  first: boolean;
  /** Date divider before this row. */
  divider: string | null;
  /** "New messages" divider before this row. */
  unreadMark: boolean;
}

export function rowKey(sender: Username, clientMsgId: string, id: MessageId | null, me: Username): string {
  return sender === me && clientMsgId ? `c${clientMsgId}` : `m${id}`;
}

export function buildRows(
  messages: Message[],
  pending: PendingMessage[],
  firstUnreadId: MessageId | null,
  me: Username,
  now: Date,
): Row[] {
  const rows: Row[] = [];
  const keys = new Set<string>();
  let prev: { sender: string; at: Date } | null = null;
  const push = (r: Omit<Row, 'first' | 'divider'>) => {
    if (keys.has(r.key)) return; // a pending copy of a message already confirmed
    keys.add(r.key);
    const at = parseTime(r.created_at) ?? now;
    const divider = !prev || !sameDay(prev.at, at) ? dayLabel(at, now) : null;
    const first =
      !prev ||
      divider !== null ||
      r.unreadMark ||
      prev.sender !== r.sender ||
      at.getTime() - prev.at.getTime() > BURST_GAP_MS;
    rows.push({ ...r, first, divider });
    prev = { sender: r.sender, at };
  };
  for (const m of messages) {
    push({
      key: rowKey(m.sender, m.client_msg_id, m.id, me),
      msg: m,
      pending: null,
      sender: m.sender,
      body: m.body,
      created_at: m.created_at,
      unreadMark: m.id === firstUnreadId,
    });
  }
  for (const p of pending) {
    push({
      key: rowKey(p.sender, p.client_msg_id, null, me),
      msg: null,
      pending: p,
      sender: p.sender,
      body: p.body,
      created_at: p.created_at,
      unreadMark: false,
    });
  }
  return rows;
}

/** The highest id among loaded messages (0 when none). */
export function lastId(messages: Message[]): MessageId {
  return messages.length ? messages[messages.length - 1]!.id : 0;
}

/**
 * Messages from others that arrived after `seenUpTo`: what the "N new
 * messages" pill counts while the reader is scrolled up. Counted by id, so
 * neither a pending row being confirmed nor a reload of the same messages
 * after a reconnect counts anything again.
 */
export function arrivalsAfter(messages: Message[], seenUpTo: MessageId, me: Username): number {
  let n = 0;
  for (let i = messages.length - 1; i >= 0 && messages[i]!.id > seenUpTo; i--) if (messages[i]!.sender !== me) n++;
  return n;
}
