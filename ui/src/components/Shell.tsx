import { useEffect, useState } from 'react';
import { Icon } from './Icon';
import { useChat } from './context';
import { useStore } from '../store/store';
import { Sidebar } from './Sidebar';
import { ChatView } from './ChatView';
import { ConnectionBanner } from './ConnectionBanner';
import { NewGroupDialog, NewDmDialog } from './NewRoomDialogs';
import { ProfileDialog } from './ProfileDialog';

const ROOM_PATH = /^\/rooms\/([^/]+)$/u;

function roomFromPath(): string | null {
  const m = ROOM_PATH.exec(window.location.pathname);
  return m ? decodeURIComponent(m[1]!) : null;
}

export type DialogKind = 'group' | 'dm' | 'profile' | null;

export function Shell() {
  const chat = useChat();
  const active = useStore(chat.ui, (s) => s.activeRoom);
  const notice = useStore(chat.ui, (s) => s.notice);
  const announcement = useStore(chat.ui, (s) => s.announcement);
  const [dialog, setDialog] = useState<DialogKind>(null);

  // URL <-> active room (the server serves index.html for /rooms/...).
  useEffect(() => {
    chat.setActiveRoom(roomFromPath());
    const onPop = () => chat.setActiveRoom(roomFromPath());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, [chat]);
  useEffect(() => {
    const want = active ? `/rooms/${encodeURIComponent(active)}` : '/';
    if (window.location.pathname !== want) window.history.pushState(null, '', want);
  }, [active]);

  // Unread count in the tab title.
  const unread = useStore(chat.rooms, (s) => Object.values(s.byId).reduce((n, r) => n + r.unread, 0));
  useEffect(() => {
    document.title = unread > 0 ? `(${unread > 99 ? '99+' : unread}) Chatter` : 'Chatter';
  }, [unread]);

  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => chat.dismissNotice(), 6000);
    return () => clearTimeout(t);
  }, [chat, notice]);

  return (
    <div className={`shell ${active ? 'has-room' : 'no-room'}`}>
      <a className="skip-link" href="#composer-input">
        Skip to message composer
      </a>
      <ConnectionBanner />
      <div className="panes">
        <Sidebar
          onNewGroup={() => setDialog('group')}
          onNewDm={() => setDialog('dm')}
          onProfile={() => setDialog('profile')}
        />
        {active ? (
          <ChatView key={active} roomId={active} />
        ) : (
          <EmptyState onNewGroup={() => setDialog('group')} onNewDm={() => setDialog('dm')} />
        )}
      </div>
      {notice && (
        <div className={`toast ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
          <span>{notice.text}</span>
          <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => chat.dismissNotice()}>
            <Icon name="close" size={16} />
          </button>
        </div>
      )}
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
        {announcement}
      </div>
      {dialog === 'group' && <NewGroupDialog onClose={() => setDialog(null)} />}
      {dialog === 'dm' && <NewDmDialog onClose={() => setDialog(null)} />}
      {dialog === 'profile' && <ProfileDialog onClose={() => setDialog(null)} />}
    </div>
  );
}

function EmptyState({ onNewGroup, onNewDm }: { onNewGroup: () => void; onNewDm: () => void }) {
  const chat = useChat();
  const count = useStore(chat.rooms, (s) => Object.keys(s.byId).length);
  return (
    <main className="empty-pane" aria-label="No conversation selected">
      <div className="empty-card">
        <div className="empty-art" aria-hidden="true" />
        <h2>{count ? 'Pick a conversation' : 'Start your first conversation'}</h2>
        <p>
          {count
            ? 'Choose a room on the left, or start something new.'
            : 'Create a group for your team, or message someone directly.'}
        </p>
        <div className="row gap">
          <button type="button" className="btn primary" onClick={onNewGroup}>
            New group
          </button>
          <button type="button" className="btn" onClick={onNewDm}>
            New message
          </button>
        </div>
      </div>
    </main>
  );
}
