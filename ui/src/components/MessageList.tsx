import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useAttention, useChat, useNow } from './context';
import { useStore } from '../store/store';
import { readersOf } from '../store/rooms';
import type { PendingMessage, Timeline } from '../store/messages';
import type { Message, Room } from '../wire/types';
import { Avatar } from './Avatar';
import { Icon } from './Icon';
import { MessageBody } from './MessageBody';
import { clock, dayLabel, fullTime, parseTime, sameDay } from '../lib/time';
import { displayName } from '../lib/names';
import { Name, Sentence } from './Names';

const EMPTY_TL: Timeline = { messages: [], hasMore: true, loaded: false, loadingOlder: false };
const NO_PENDING: PendingMessage[] = [];
const GROUP_GAP_MS = 5 * 60 * 1000;
const BOTTOM_SLACK_PX = 48;
const LOAD_OLDER_PX = 300;

interface Row {
  key: string;
  msg: Message | null; // null for a pending message
  pending: PendingMessage | null;
  sender: string;
  body: string;
  created_at: string;
  first: boolean; // first of a group of consecutive messages by one sender
  divider: string | null; // date divider before this row
  unreadMark: boolean; // "New messages" divider before this row
}

function buildRows(messages: Message[], pending: PendingMessage[], firstUnreadId: number | null, now: Date): Row[] {
  const rows: Row[] = [];
  let prev: { sender: string; at: Date } | null = null;
  const push = (r: Omit<Row, 'first' | 'divider'>) => {
    const at = parseTime(r.created_at) ?? now;
    const divider = !prev || !sameDay(prev.at, at) ? dayLabel(at, now) : null;
    const first =
      !prev ||
      divider !== null ||
      r.unreadMark ||
      prev.sender !== r.sender ||
      at.getTime() - prev.at.getTime() > GROUP_GAP_MS;
    rows.push({ ...r, first, divider });
    prev = { sender: r.sender, at };
  };
  for (const m of messages) {
    push({
      key: `m${m.id}`,
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
      key: `p${p.client_msg_id}`,
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

export function MessageList({ roomId }: { roomId: string }) {
  const chat = useChat();
  const tl = useStore(chat.messages, (s) => s.timelines[roomId]) ?? EMPTY_TL;
  const pending = useStore(chat.messages, (s) => s.pending[roomId]) ?? NO_PENDING;
  const room = useStore(chat.rooms, (s) => s.byId[roomId]);
  const me = useStore(chat.session, (s) => s.me?.username ?? '');
  const attention = useAttention();
  const now = useNow(60_000);

  // Where "New messages" goes: our read cursor when the room was opened.
  const openedCursor = useRef<number | null>(null);
  if (openedCursor.current === null && room && tl.loaded) {
    openedCursor.current = room.members.find((m) => m.username === me)?.read_up_to ?? 0;
  }
  const firstUnreadId = useMemo(() => {
    const c = openedCursor.current;
    if (c === null || c === 0) return null;
    return tl.messages.find((m) => m.id > c && m.sender !== me)?.id ?? null;
  }, [tl.messages, me]);

  const rows = useMemo(
    () => buildRows(tl.messages, pending, firstUnreadId, now),
    [tl.messages, pending, firstUnreadId, now],
  );
  const lastOwnConfirmed = useMemo(() => {
    for (let i = tl.messages.length - 1; i >= 0; i--) if (tl.messages[i]!.sender === me) return tl.messages[i]!.id;
    return 0;
  }, [tl.messages, me]);

  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const snap = useRef({ height: 0, top: 0, firstKey: '', lastKey: '', count: 0 });
  const [newCount, setNewCount] = useState(0);

  const checkRead = useCallback(() => {
    const el = ref.current;
    if (!el || !attention) return;
    const viewTop = el.scrollTop;
    const viewBottom = viewTop + el.clientHeight;
    const nodes = el.querySelectorAll<HTMLElement>('[data-msg-id]');
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i]!;
      const top = n.offsetTop;
      if (top < viewBottom && top + n.offsetHeight > viewTop) {
        chat.markRead(roomId, Number(n.dataset.msgId));
        return;
      }
      if (top + n.offsetHeight <= viewTop) return;
    }
  }, [attention, chat, roomId]);

  const scrollToBottom = useCallback((smooth = false) => {
    const el = ref.current;
    if (!el) return;
    el.scrollTo({ top: el.scrollHeight, behavior: smooth ? 'smooth' : 'auto' });
    atBottom.current = true;
    setNewCount(0);
  }, []);

  // Keep the reader's place: stick to the bottom, or hold position when older
  // messages are prepended, and count arrivals while scrolled up.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const prev = snap.current;
    const firstKey = rows[0]?.key ?? '';
    const lastKey = rows[rows.length - 1]?.key ?? '';
    if (prev.count === 0 || !prev.lastKey) {
      // Opening a room: start at the first unread message if there is one, else at the bottom.
      const mark = el.querySelector<HTMLElement>('.unread-mark');
      if (mark && mark.offsetTop + el.clientHeight < el.scrollHeight) {
        el.scrollTop = Math.max(0, mark.offsetTop - 24);
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK_PX;
      } else {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
      }
    } else if (firstKey !== prev.firstKey && lastKey === prev.lastKey) {
      // Prepended history: keep the same content under the viewport.
      el.scrollTop = el.scrollHeight - prev.height + prev.top;
    } else if (lastKey !== prev.lastKey) {
      const lastRow = rows[rows.length - 1];
      const mineNew = !!lastRow && lastRow.sender === me && lastRow.pending !== null;
      if (atBottom.current || mineNew) {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
        setNewCount(0);
      } else {
        const prevIdx = rows.findIndex((r) => r.key === prev.lastKey);
        const added = rows.slice(prevIdx + 1).filter((r) => r.sender !== me).length;
        if (added > 0) setNewCount((n) => n + added);
      }
    }
    snap.current = { height: el.scrollHeight, top: el.scrollTop, firstKey, lastKey, count: rows.length };
    // Short history that does not fill the pane: fetch more right away.
    if (tl.loaded && tl.hasMore && !tl.loadingOlder && el.scrollHeight <= el.clientHeight + 8)
      void chat.loadOlder(roomId);
    checkRead();
  }, [rows, me, tl.loaded, tl.hasMore, tl.loadingOlder, chat, roomId, checkRead]);

  useEffect(() => {
    checkRead();
  }, [checkRead, room?.last_message?.id]);

  // Keep the bottom in view when the pane resizes (e.g. the composer grows).
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK_PX;
    if (atBottom.current && newCount) setNewCount(0);
    snap.current = { ...snap.current, height: el.scrollHeight, top: el.scrollTop };
    if (el.scrollTop < LOAD_OLDER_PX) void chat.loadOlder(roomId);
    checkRead();
  };

  return (
    <div className="msg-pane">
      <div
        className="msg-scroll"
        ref={ref}
        onScroll={onScroll}
        tabIndex={0}
        role="region"
        aria-label="Message history"
        data-testid="message-list"
      >
        <div className="history-edge">
          {!tl.loaded ? (
            <span className="muted">Loading messages…</span>
          ) : tl.loadingOlder ? (
            <span className="muted">Loading earlier messages…</span>
          ) : !tl.hasMore ? (
            <span className="muted">
              {rows.length ? 'This is the beginning of the conversation.' : 'No messages yet — say hello!'}
            </span>
          ) : (
            <button type="button" className="link-btn" onClick={() => void chat.loadOlder(roomId)}>
              Load earlier messages
            </button>
          )}
        </div>
        <ol className="msgs">
          {rows.map((r) => (
            <Fragment key={r.key}>
              {r.divider && (
                <li className="divider" data-testid="date-divider">
                  <span>{r.divider}</span>
                </li>
              )}
              {r.unreadMark && (
                <li className="divider unread-mark" data-testid="unread-divider">
                  <span>New messages</span>
                </li>
              )}
              <MessageRow row={r} room={room} me={me} showReceipt={r.msg !== null && r.msg.id === lastOwnConfirmed} />
            </Fragment>
          ))}
        </ol>
      </div>
      {newCount > 0 && (
        <button type="button" className="new-pill" onClick={() => scrollToBottom(true)} data-testid="new-messages-pill">
          {newCount} new message{newCount === 1 ? '' : 's'} <Icon name="down" size={14} />
        </button>
      )}
    </div>
  );
}

function MessageRow({
  row,
  room,
  me,
  showReceipt,
}: {
  row: Row;
  room: Room | undefined;
  me: string;
  showReceipt: boolean;
}) {
  const chat = useChat();
  const mine = row.sender === me;
  const name = displayName(room, row.sender);
  const at = parseTime(row.created_at);
  const group = room?.kind === 'group';
  const state = row.pending ? row.pending.state : 'sent';
  return (
    <li
      className={`msg ${mine ? 'mine' : 'theirs'} ${row.first ? 'first' : 'cont'} ${state}`}
      data-msg-id={row.msg?.id}
      data-testid="message"
      data-state={state}
      data-sender={row.sender}
    >
      {!mine &&
        group &&
        (row.first ? <Avatar name={name} seed={row.sender} size="sm" /> : <span className="avatar-spacer" />)}
      <div className="bubble">
        {row.first && !mine && group && (
          <div className="msg-sender">
            <Name>{name}</Name>
          </div>
        )}
        <span className="sr-only">{mine ? 'You' : <Name>{name}</Name>}: </span>
        <MessageBody text={row.body} />
        <div className="msg-meta">
          <time dateTime={row.created_at} title={fullTime(row.created_at)}>
            {at ? clock(at) : ''}
          </time>
          {mine && <Receipt row={row} room={room} showText={showReceipt} />}
        </div>
        {row.pending?.state === 'failed' && (
          <div className="msg-failed" role="alert">
            <span>{row.pending.error ?? 'Not delivered.'}</span>
            <button type="button" className="link-btn" onClick={() => void chat.retry(row.pending!.client_msg_id)}>
              Retry
            </button>
            <button type="button" className="link-btn" onClick={() => void chat.discard(row.pending!.client_msg_id)}>
              Discard
            </button>
          </div>
        )}
      </div>
    </li>
  );
}

function Receipt({ row, room, showText }: { row: Row; room: Room | undefined; showText: boolean }) {
  if (row.pending) {
    if (row.pending.state === 'failed')
      return (
        <span
          className="receipt failed"
          role="img"
          data-testid="receipt"
          data-receipt="failed"
          aria-label="Not delivered"
        >
          <Icon name="alert" size={13} />
        </span>
      );
    return (
      <span
        className="receipt pending"
        role="img"
        data-testid="receipt"
        data-receipt="pending"
        title="Sending…"
        aria-label="Sending"
      >
        <Icon name="clock" size={13} />
      </span>
    );
  }
  const readers = readersOf(room, row.msg!);
  if (readers.length === 0) {
    return (
      <span
        className="receipt sent"
        role="img"
        data-testid="receipt"
        data-receipt="sent"
        title="Sent"
        aria-label="Sent"
      >
        <Icon name="check" size={14} />
      </span>
    );
  }
  const names = readers.map((m) => m.name || m.username);
  const label = room?.kind === 'dm' ? 'Read' : `Read by ${readers.length}`;
  return (
    <span
      className="receipt read"
      role="img"
      tabIndex={showText ? 0 : undefined}
      data-testid="receipt"
      data-receipt="read"
      data-readers={readers.length}
      aria-label={`Read by ${names.join(', ')}`}
    >
      <Icon name="checks" size={15} />
      {showText && <span className="receipt-text">{label}</span>}
      <span className="who-read" role="tooltip">
        <Sentence parts={['Read by ', ...names.flatMap((name, i) => (i ? [', ', { name }] : [{ name }]))]} />
      </span>
    </span>
  );
}
