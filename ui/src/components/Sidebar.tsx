import { useMemo, useState, type ReactNode } from 'react';
import { useChat, useNow } from './context';
import { useStore } from '../store/store';
import { sortRooms } from '../store/rooms';
import { Avatar } from './Avatar';
import { Icon } from './Icon';
import { dmPeer, displayName, roomTitle } from '../lib/names';
import { relativeShort } from '../lib/time';
import { typingParts } from '../store/typing';
import { Name, Sentence } from './Names';
import type { Room } from '../wire/types';

export function Sidebar({
  onNewGroup,
  onNewDm,
  onProfile,
}: {
  onNewGroup: () => void;
  onNewDm: () => void;
  onProfile: () => void;
}) {
  const chat = useChat();
  const me = useStore(chat.session, (s) => s.me);
  const byId = useStore(chat.rooms, (s) => s.byId);
  const active = useStore(chat.ui, (s) => s.activeRoom);
  const presence = useStore(chat.presence, (s) => s);
  const pending = useStore(chat.messages, (s) => s.pending);
  const typing = useStore(chat.typing, (s) => s);
  const live = useStore(chat.connection, (s) => s.state === 'open');
  const now = useNow();
  const [filter, setFilter] = useState('');
  const all = useMemo(() => sortRooms(Object.values(byId)), [byId]);
  const rooms = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? all.filter((r) => roomTitle(r, me?.username).toLowerCase().includes(f)) : all;
  }, [all, filter, me?.username]);
  const totalUnread = all.reduce((n, r) => n + r.unread, 0);

  return (
    <nav className="sidebar" aria-label="Conversations">
      <header className="sidebar-head">
        <button type="button" className="me-btn" onClick={onProfile} title="Profile and settings">
          <Avatar name={me?.name ?? '?'} seed={me?.username ?? '?'} />
          <span className="me-text">
            <span className="me-name">
              <Name>{me?.name ?? ''}</Name>
            </span>
            <span className="me-user">@{me?.username}</span>
          </span>
          <span className="sr-only">, profile and settings</span>
        </button>
        <button type="button" className="btn ghost small" onClick={() => void chat.logout()}>
          Log out
        </button>
      </header>
      <div className="sidebar-actions">
        <button type="button" className="btn primary small" onClick={onNewGroup}>
          + New group
        </button>
        <button type="button" className="btn small" onClick={onNewDm}>
          New message
        </button>
      </div>
      {all.length > 0 && (
        <div className="room-search">
          <label htmlFor="room-filter" className="sr-only">
            Search conversations
          </label>
          <input
            id="room-filter"
            type="search"
            placeholder="Search conversations"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            autoComplete="off"
          />
        </div>
      )}
      <h2 className="sr-only">Rooms{totalUnread ? ` (${totalUnread} unread)` : ''}</h2>
      {rooms.length === 0 ? (
        <p className="sidebar-empty">{all.length ? 'No conversation matches.' : 'No conversations yet.'}</p>
      ) : (
        <ul className="room-list" data-testid="room-list">
          {rooms.map((r) => (
            <RoomItem
              key={r.id}
              room={r}
              me={me?.username}
              active={r.id === active}
              online={
                r.kind === 'dm' && live
                  ? (presence[dmPeer(r, me?.username)?.username ?? '']?.online ?? false)
                  : undefined
              }
              lastPending={pending[r.id]?.at(-1)?.body ?? null}
              typingNames={(typing[r.id] ?? []).map((u) => displayName(r, u).split(' ')[0]!)}
              now={now}
              onOpen={() => chat.setActiveRoom(r.id)}
            />
          ))}
        </ul>
      )}
    </nav>
  );
}

function RoomItem({
  room,
  me,
  active,
  online,
  lastPending,
  typingNames,
  now,
  onOpen,
}: {
  room: Room;
  me: string | undefined;
  active: boolean;
  online: boolean | undefined;
  lastPending: string | null;
  typingNames: string[];
  now: Date;
  onOpen: () => void;
}) {
  const title = roomTitle(room, me);
  const last = room.last_message;
  const who = last
    ? last.sender === me
      ? 'You'
      : room.kind === 'dm'
        ? ''
        : displayName(room, last.sender).split(' ')[0]
    : '';
  const preview: ReactNode =
    lastPending !== null ? (
      <>
        You: <bdi>{lastPending}</bdi>
      </>
    ) : last ? (
      <>
        {who && (
          <>
            <Name>{who}</Name>:{' '}
          </>
        )}
        <bdi>{last.body}</bdi>
      </>
    ) : room.kind === 'dm' ? (
      'Say hello'
    ) : (
      'No messages yet'
    );
  const when = relativeShort(last?.created_at ?? room.created_at, now);
  const presenceText = online === undefined ? '' : online ? ', online' : ', offline';
  return (
    <li>
      <a
        href={`/rooms/${encodeURIComponent(room.id)}`}
        className={`room-item ${active ? 'active' : ''} ${room.unread ? 'unread' : ''}`}
        aria-current={active ? 'page' : undefined}
        data-room-id={room.id}
        onClick={(e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          onOpen();
        }}
      >
        <Avatar
          name={title}
          seed={room.kind === 'dm' ? (dmPeer(room, me)?.username ?? room.id) : room.id}
          online={online}
          group={room.kind === 'group'}
        />
        <span className="room-main">
          <span className="room-top">
            <span className="room-name">
              <Name>{title}</Name>
              <span className="sr-only">{presenceText}</span>
            </span>
            <time className="room-time" dateTime={last?.created_at ?? room.created_at}>
              {when}
            </time>
          </span>
          <span className="room-bottom">
            {typingNames.length > 0 ? (
              <span className="room-preview typing-preview">
                {room.kind === 'dm' ? 'typing…' : <Sentence parts={typingParts(typingNames)} />}
              </span>
            ) : (
              <span className="room-preview">
                {lastPending !== null && (
                  <span className="preview-pending" title="Not sent yet">
                    <Icon name="clock" size={12} />
                  </span>
                )}
                {preview}
              </span>
            )}
            {room.unread > 0 && (
              <span className="badge" data-testid="unread-badge">
                {room.unread > 99 ? '99+' : room.unread}
                <span className="sr-only"> unread</span>
              </span>
            )}
          </span>
        </span>
      </a>
    </li>
  );
}
