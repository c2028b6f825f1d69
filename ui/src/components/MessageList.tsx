import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useAttention, useChat, useNow } from './context';
import { useStore } from '../store/store';
import { readersOf } from '../store/rooms';
import type { PendingMessage, Timeline } from '../store/messages';
import type { Room } from '../wire/types';
import { Avatar } from './Avatar';
import { Icon } from './Icon';
import { MessageBody } from './MessageBody';
import { clock, fullTime, parseTime } from '../lib/time';
import { displayName } from '../lib/names';
import { arrivalsAfter, buildRows, lastId, type Row } from '../lib/timeline';
import { Name, Sentence } from './Names';

const EMPTY_TL: Timeline = { messages: [], hasMore: true, loaded: false, loadingOlder: false };
const NO_PENDING: PendingMessage[] = [];
const BOTTOM_SLACK_PX = 48;
const LOAD_OLDER_PX = 600;
/** A one-line continuation row; rows are measured once rendered. */
const ESTIMATE_PX = 26;
const OVERSCAN = 12;

/**
 * A room's timeline: team-chat rows (lib/timeline.ts) in a virtual list, so
 * only the rows near the viewport are in the DOM however much history is
 * loaded. The virtualizer keeps the reader's place: anchored to the row
 * under the viewport when older history is prepended (`anchorTo: 'end'`),
 * and following new rows while the reader is at the bottom
 * (`followOnAppend`). Scrolled up, arrivals from others are counted by id
 * into the "N new messages" pill.
 */
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

  // A row keeps the header it has been shown with: when older history lands above the top row
  // and joins its burst, taking the header away would move its text under the reader.
  const headed = useRef(new Set<string>());
  const rows = useMemo(() => {
    const built = buildRows(tl.messages, pending, firstUnreadId, me, now);
    return built.map((r) => (!r.first && headed.current.has(r.key) ? { ...r, first: true } : r));
  }, [tl.messages, pending, firstUnreadId, me, now]);
  useEffect(() => {
    for (const r of rows) if (r.first) headed.current.add(r.key);
  }, [rows]);
  const lastOwnConfirmed = useMemo(() => {
    for (let i = tl.messages.length - 1; i >= 0; i--) if (tl.messages[i]!.sender === me) return tl.messages[i]!.id;
    return 0;
  }, [tl.messages, me]);

  const ref = useRef<HTMLDivElement>(null);
  const listRef = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  const opened = useRef(false);
  // The newest message the reader has had in view at the bottom; the pill counts others' after it.
  const [seenUpTo, setSeenUpTo] = useState<number | null>(null);
  const newest = lastId(tl.messages);
  const newCount = seenUpTo === null ? 0 : arrivalsAfter(tl.messages, seenUpTo, me);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => ref.current,
    estimateSize: () => ESTIMATE_PX,
    getItemKey: (i) => rows[i]!.key,
    overscan: OVERSCAN,
    scrollMargin: listRef.current?.offsetTop ?? 0,
    anchorTo: 'end',
    followOnAppend: true,
    scrollEndThreshold: BOTTOM_SLACK_PX,
  });

  const checkRead = useCallback(() => {
    const el = ref.current;
    if (!el || !attention) return;
    const view = el.getBoundingClientRect();
    const nodes = el.querySelectorAll<HTMLElement>('[data-msg-id]');
    for (let i = nodes.length - 1; i >= 0; i--) {
      const r = nodes[i]!.getBoundingClientRect();
      if (r.top < view.bottom && r.bottom > view.top) {
        chat.markRead(roomId, Number(nodes[i]!.dataset.msgId));
        return;
      }
    }
  }, [attention, chat, roomId]);

  // A jump, not a smooth scroll: rows measured on the way change the height, and a smooth
  // scroll to the old bottom stopped short of the new one. The resize observer below keeps
  // the bottom in view while the rows there are measured.
  const scrollToBottom = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    atBottom.current = true;
    setSeenUpTo(newest);
    el.scrollTop = el.scrollHeight;
  }, [newest]);

  // Opening a room: start at the first unread message if there is one, else at the bottom.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || opened.current || !tl.loaded) return;
    opened.current = true;
    setSeenUpTo(newest);
    const idx = rows.findIndex((r) => r.unreadMark);
    if (idx > 0) {
      virtualizer.scrollToIndex(idx, { align: 'start' });
    } else {
      el.scrollTop = el.scrollHeight;
    }
  }, [tl.loaded, rows, newest, virtualizer]);

  // At the bottom, stay there whatever changed: followOnAppend only follows a new last row, and
  // after a reconnect the other person's messages land *above* our pending one (the last row).
  // Runs before any scroll event of this commit, so atBottom is still the reader's state.
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && opened.current && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [rows]);

  // Our own new message always brings the bottom into view.
  const lastRow = rows[rows.length - 1];
  const ownPendingKey = lastRow?.pending && lastRow.sender === me ? lastRow.key : null;
  useLayoutEffect(() => {
    if (ownPendingKey) scrollToBottom();
  }, [ownPendingKey]); // eslint-disable-line react-hooks/exhaustive-deps

  // At the bottom, everything that arrives is seen.
  useEffect(() => {
    if (atBottom.current && opened.current) setSeenUpTo(newest);
  }, [newest]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    // Short history that does not fill the pane: fetch more right away.
    if (tl.loaded && tl.hasMore && !tl.loadingOlder && el.scrollHeight <= el.clientHeight + 8)
      void chat.loadOlder(roomId);
    checkRead();
  }, [rows, tl.loaded, tl.hasMore, tl.loadingOlder, chat, roomId, checkRead]);

  useEffect(() => {
    checkRead();
  }, [checkRead, room?.last_message?.id]);

  // Keep the bottom in view when the pane or the list resizes (the composer grows, rows are measured).
  useEffect(() => {
    const el = ref.current;
    const list = listRef.current;
    if (!el || !list || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    ro.observe(list);
    return () => ro.disconnect();
  }, []);

  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK_PX;
    if (atBottom.current && seenUpTo !== newest) setSeenUpTo(newest);
    if (el.scrollTop < LOAD_OLDER_PX) void chat.loadOlder(roomId);
    checkRead();
  };

  const items = virtualizer.getVirtualItems();
  const margin = virtualizer.options.scrollMargin;
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
        {/* The top row's date divider sits here, and every other one at the bottom of the row before
            it, so that no row changes height above the reader when older history is prepended. */}
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
          {rows[0]?.divider && <DateDivider label={rows[0].divider} />}
        </div>
        <ol className="msgs" ref={listRef} style={{ height: virtualizer.getTotalSize() }}>
          {items.map((v) => {
            const r = rows[v.index]!;
            return (
              <li
                key={v.key}
                ref={virtualizer.measureElement}
                data-index={v.index}
                className="tl-item"
                style={{ transform: `translateY(${v.start - margin}px)` }}
                aria-setsize={rows.length}
                aria-posinset={v.index + 1}
              >
                {r.unreadMark && (
                  <div className="divider unread-mark" data-testid="unread-divider">
                    <span>New messages</span>
                  </div>
                )}
                <MessageRow row={r} room={room} me={me} showReceipt={r.msg !== null && r.msg.id === lastOwnConfirmed} />
                {rows[v.index + 1]?.divider && <DateDivider label={rows[v.index + 1]!.divider!} />}
              </li>
            );
          })}
        </ol>
      </div>
      {newCount > 0 && (
        <button type="button" className="new-pill" onClick={() => scrollToBottom()} data-testid="new-messages-pill">
          {newCount} new message{newCount === 1 ? '' : 's'} <Icon name="down" size={14} />
        </button>
      )}
    </div>
  );
}

function DateDivider({ label }: { label: string }) {
  return (
    <div className="divider" data-testid="date-divider">
      <span>{label}</span>
    </div>
  );
}

/**
 * One message: a gutter (the avatar on a burst's first row, the time on
 * hover in the others), the main column (header, body, then `below`: where
 * reactions will go), and the status column (our receipts). `tools` is the
 * slot for a hover/focus toolbar; the row already highlights on hover and
 * on focus-within, so one can be added without changing the layout.
 */
export const MessageRow = memo(function MessageRow({
  row,
  room,
  me,
  showReceipt,
  tools,
  below,
}: {
  row: Row;
  room: Room | undefined;
  me: string;
  showReceipt: boolean;
  tools?: ReactNode;
  below?: ReactNode;
}) {
  const chat = useChat();
  const mine = row.sender === me;
  const name = displayName(room, row.sender);
  const at = parseTime(row.created_at);
  const state = row.pending ? row.pending.state : 'sent';
  const time = (
    <time dateTime={row.created_at} title={fullTime(row.created_at)}>
      {at ? clock(at) : ''}
    </time>
  );
  return (
    <div
      className={`msg ${mine ? 'mine' : 'theirs'} ${row.first ? 'first' : 'cont'} ${state}`}
      data-msg-id={row.msg?.id}
      data-testid="message"
      data-state={state}
      data-sender={row.sender}
    >
      <div className="msg-gutter">
        {row.first ? (
          <Avatar name={name} seed={row.sender} size="sm" />
        ) : (
          <span className="msg-hover-time">{time}</span>
        )}
      </div>
      <div className="msg-main">
        {row.first ? (
          <div className="msg-head">
            <span className="msg-sender">
              <Name>{name}</Name>
              {mine && <span className="sr-only"> (you)</span>}
            </span>
            <span className="msg-time">{time}</span>
          </div>
        ) : (
          <span className="sr-only">
            <Name>{name}</Name>:{' '}
          </span>
        )}
        <MessageBody text={row.body} />
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
        {below}
      </div>
      <div className="msg-status">{mine && <Receipt row={row} room={room} showText={showReceipt} />}</div>
      {tools}
    </div>
  );
});

/**
 * Our message's state, as a shape, a colour and (on our latest message) a
 * word: a clock while sending, an outlined tick once sent, a filled disc with
 * two ticks once read, a red alert if it failed. Never a tab stop (a focusable
 * receipt made Tab scroll the timeline to it); the readers' names are in its
 * accessible name and in the tooltip on hover.
 */
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
          <Icon name="alert" size={17} />
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
        <Icon name="clock" size={16} />
        {showText && <span className="receipt-text">Sending</span>}
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
        <span className="receipt-mark">
          <Icon name="check" size={12} />
        </span>
        {showText && <span className="receipt-text">Sent</span>}
      </span>
    );
  }
  const names = readers.map((m) => m.name || m.username);
  const label = room?.kind === 'dm' ? 'Read' : `Read by ${readers.length}`;
  return (
    <span
      className="receipt read"
      role="img"
      data-testid="receipt"
      data-receipt="read"
      data-readers={readers.length}
      aria-label={`Read by ${names.join(', ')}`}
    >
      <span className="receipt-mark">
        <Icon name="checks" size={13} />
      </span>
      {showText && <span className="receipt-text">{label}</span>}
      <span className="who-read" role="tooltip">
        <Sentence parts={['Read by ', ...names.flatMap((name, i) => (i ? [', ', { name }] : [{ name }]))]} />
      </span>
    </span>
  );
}
