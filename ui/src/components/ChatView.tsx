import { useEffect, useState } from 'react';
import { useChat, useNow } from './context';
import { useStore } from '../store/store';
import { Avatar } from './Avatar';
import { Icon } from './Icon';
import { MessageList } from './MessageList';
import { Composer } from './Composer';
import { RoomSettingsDialog } from './RoomSettingsDialog';
import { dmPeer, roomTitle } from '../lib/names';
import { lastSeenText } from '../lib/time';
import { typingParts } from '../store/typing';
import { Name, Sentence } from './Names';

export function ChatView({ roomId }: { roomId: string }) {
  const chat = useChat();
  const room = useStore(chat.rooms, (s) => s.byId[roomId]);
  const generation = useStore(chat.rooms, (s) => s.generation);
  const me = useStore(chat.session, (s) => s.me);
  const [settings, setSettings] = useState(false);
  const known = !!room;

  useEffect(() => {
    if (known) void chat.loadLatest(roomId);
  }, [chat, roomId, known, generation]);

  // A DM partner's last-seen time comes from their user record.
  const peer = room ? dmPeer(room, me?.username) : undefined;
  useEffect(() => {
    if (!peer) return;
    chat.api.user(peer.username).then(
      (u) => chat.presence.learn(u),
      () => {},
    );
  }, [chat, peer?.username]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!room) {
    return (
      <main className="chat chat-missing" aria-label="Conversation">
        <div className="empty-card">
          <h2>Conversation not available</h2>
          <p>It may still be loading, or you are not a member.</p>
          <button type="button" className="btn" onClick={() => chat.setActiveRoom(null)}>
            Back to conversations
          </button>
        </div>
      </main>
    );
  }

  const title = roomTitle(room, me?.username);
  return (
    <main className="chat" aria-label={`Conversation: ${title}`}>
      <header className="chat-head">
        <button
          type="button"
          className="icon-btn back-btn"
          aria-label="Back to conversations"
          onClick={() => chat.setActiveRoom(null)}
        >
          <Icon name="back" size={22} />
        </button>
        <HeaderAvatar roomId={roomId} />
        <div className="chat-title">
          <h2 data-testid="room-title">
            <Name>{title}</Name>
          </h2>
          <Subtitle roomId={roomId} />
        </div>
        <button
          type="button"
          className="btn ghost small head-btn"
          onClick={() => setSettings(true)}
          aria-haspopup="dialog"
          aria-label={room.kind === 'dm' ? 'Details' : 'Room settings'}
        >
          <Icon name="info" size={18} />
          <span className="head-btn-text" aria-hidden="true">
            {room.kind === 'dm' ? 'Details' : 'Room settings'}
          </span>
        </button>
      </header>
      <MessageList roomId={roomId} />
      <TypingIndicator roomId={roomId} />
      <Composer roomId={roomId} />
      {settings && <RoomSettingsDialog roomId={roomId} onClose={() => setSettings(false)} />}
    </main>
  );
}

function HeaderAvatar({ roomId }: { roomId: string }) {
  const chat = useChat();
  const room = useStore(chat.rooms, (s) => s.byId[roomId])!;
  const me = useStore(chat.session, (s) => s.me);
  const peer = dmPeer(room, me?.username);
  const online = useStore(chat.presence, (s) => (peer ? (s[peer.username]?.online ?? false) : undefined));
  return (
    <Avatar
      name={roomTitle(room, me?.username)}
      seed={peer?.username ?? room.id}
      online={online}
      group={room.kind === 'group'}
      size="md"
    />
  );
}

function Subtitle({ roomId }: { roomId: string }) {
  const chat = useChat();
  const room = useStore(chat.rooms, (s) => s.byId[roomId])!;
  const me = useStore(chat.session, (s) => s.me);
  const presence = useStore(chat.presence, (s) => s);
  // Presence is only known while connected; say so rather than show stale state.
  const live = useStore(chat.connection, (s) => s.state === 'open');
  const now = useNow(15_000);
  if (room.kind === 'dm') {
    const peer = dmPeer(room, me?.username);
    const p = peer ? presence[peer.username] : undefined;
    const text = !live ? 'waiting for connection…' : p?.online ? 'online' : lastSeenText(p?.last_seen, now);
    return (
      <p className="chat-sub" data-testid="presence-text">
        {text}
      </p>
    );
  }
  const online = live
    ? room.members.filter((m) => m.username !== me?.username && presence[m.username]?.online).length
    : 0;
  return (
    <p className="chat-sub">
      {room.members.length} member{room.members.length === 1 ? '' : 's'}
      {online > 0 ? ` · ${online} online` : ''}
    </p>
  );
}

function TypingIndicator({ roomId }: { roomId: string }) {
  const chat = useChat();
  const users = useStore(chat.typing, (s) => s[roomId]);
  const room = useStore(chat.rooms, (s) => s.byId[roomId]);
  const names = (users ?? []).map((u) => room?.members.find((m) => m.username === u)?.name || u);
  const parts = typingParts(names);
  return (
    <div className="typing" aria-live="polite" data-testid="typing-indicator">
      {parts.length > 0 && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          <span>
            <Sentence parts={parts} />
          </span>
        </>
      )}
    </div>
  );
}
