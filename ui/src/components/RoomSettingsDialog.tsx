import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { Name } from './Names';
import { useChat, useNow } from './context';
import { useStore } from '../store/store';
import { can, myRole } from '../store/rooms';
import { Dialog } from './Dialog';
import { UserPicker } from './UserPicker';
import { Avatar } from './Avatar';
import { describeError } from '../api/http';
import { roomTitle } from '../lib/names';
import { lastSeenText } from '../lib/time';
import type { Member } from '../wire/types';

const ROLE_LABEL: Record<Member['role'], string> = { owner: 'Owner', admin: 'Admin', member: 'Member' };
const ROLE_ORDER: Record<Member['role'], number> = { owner: 0, admin: 1, member: 2 };

export function RoomSettingsDialog({ roomId, onClose }: { roomId: string; onClose: () => void }) {
  const chat = useChat();
  const room = useStore(chat.rooms, (s) => s.byId[roomId]);
  const me = useStore(chat.session, (s) => s.me?.username);
  const presence = useStore(chat.presence, (s) => s);
  const now = useNow();
  const [name, setName] = useState(room?.name ?? '');
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<ReactNode>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const id = useId();

  if (!room) return null;
  const role = myRole(room, me);
  const run = async (f: () => Promise<void>, done?: ReactNode) => {
    setError(null);
    setOk(null);
    try {
      await f();
      if (done) setOk(done);
    } catch (err) {
      setError(describeError(err));
    }
  };
  const members = [...room.members].sort(
    (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name),
  );

  const rename = (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError('The name cannot be empty.');
    void run(() => chat.renameRoom(roomId, name), 'Renamed.');
  };

  return (
    <Dialog title={room.kind === 'dm' ? 'Conversation details' : 'Room settings'} onClose={onClose} wide>
      <div className="stack">
        {room.kind === 'group' &&
          (can.rename(room, role) ? (
            <form onSubmit={rename} className="row gap end">
              <div className="grow">
                <label htmlFor={`${id}-name`}>Room name</label>
                <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
              </div>
              <button type="submit" className="btn" disabled={name.trim() === room.name}>
                Rename
              </button>
            </form>
          ) : (
            <p>
              <strong>
                <Name>{roomTitle(room, me)}</Name>
              </strong>
            </p>
          ))}

        <h3>Members ({room.members.length})</h3>
        <ul className="member-list" data-testid="member-list">
          {members.map((m) => {
            const p = presence[m.username];
            return (
              <li key={m.username} className="member" data-username={m.username}>
                <Avatar
                  name={m.name}
                  seed={m.username}
                  size="sm"
                  online={m.username === me ? true : (p?.online ?? false)}
                />
                <span className="member-main">
                  <span className="member-name">
                    <Name>{m.name}</Name>
                    {m.username === me ? ' (you)' : ''}
                  </span>
                  <span className="muted">
                    @{m.username} · {m.username === me || p?.online ? 'online' : lastSeenText(p?.last_seen, now)}
                  </span>
                </span>
                {can.changeRole(room, role, m) ? (
                  <select
                    aria-label={`Role of ${m.name}`}
                    value={m.role}
                    onChange={(e) => {
                      const next = e.target.value as 'admin' | 'member' | 'owner';
                      if (next === 'owner' && !window.confirm(`Make ${m.name} the owner? You will become an admin.`))
                        return;
                      void run(
                        () => chat.setRole(roomId, m.username, next),
                        next === 'owner' ? `${m.name} is now the owner.` : 'Role changed.',
                      );
                    }}
                  >
                    <option value="member">Member</option>
                    <option value="admin">Admin</option>
                    <option value="owner">Owner (transfer)</option>
                  </select>
                ) : (
                  room.kind === 'group' && <span className={`role-tag ${m.role}`}>{ROLE_LABEL[m.role]}</span>
                )}
                {m.username !== me && can.removeMember(room, role, m) && (
                  <button
                    type="button"
                    className="btn small ghost danger"
                    aria-label={`Remove ${m.name}`}
                    onClick={() =>
                      void run(
                        () => chat.removeMember(roomId, m.username),
                        <>
                          <Name>{m.name}</Name> was removed.
                        </>,
                      )
                    }
                  >
                    Remove
                  </button>
                )}
              </li>
            );
          })}
        </ul>

        {can.addMember(room, role) && (
          <UserPicker
            label="Add a member"
            exclude={room.members.map((m) => m.username)}
            onPick={(u) =>
              void run(
                () => chat.addMember(roomId, u.username),
                <>
                  <Name>{u.name}</Name> was added.
                </>,
              )
            }
          />
        )}

        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {ok && (
          <p className="form-ok" role="status">
            {ok}
          </p>
        )}

        {room.kind === 'group' && (can.leave(room, role) || can.delete(room, role)) && (
          <div className="danger-zone">
            {can.leave(room, role) && (
              <button
                type="button"
                className="btn danger"
                onClick={() =>
                  void run(async () => {
                    await chat.leaveRoom(roomId);
                    onClose();
                  })
                }
              >
                Leave room
              </button>
            )}
            {can.delete(room, role) &&
              (confirmDelete ? (
                <span className="row gap">
                  <span>Delete “{room.name}” for everyone?</span>
                  <button
                    type="button"
                    className="btn danger"
                    onClick={() =>
                      void run(async () => {
                        await chat.deleteRoom(roomId);
                        onClose();
                      })
                    }
                  >
                    Yes, delete
                  </button>
                  <button type="button" className="btn" onClick={() => setConfirmDelete(false)}>
                    Cancel
                  </button>
                </span>
              ) : (
                <button type="button" className="btn danger" onClick={() => setConfirmDelete(true)}>
                  Delete room
                </button>
              ))}
            {role === 'owner' && (
              <p className="muted small" data-testid="owner-hint">
                {room.members.length > 1
                  ? 'As the owner you cannot leave. To leave, first make another member the owner with “Owner (transfer)” in their role menu, or delete the room.'
                  : 'As the only member you cannot leave; delete the room instead.'}
              </p>
            )}
          </div>
        )}
      </div>
    </Dialog>
  );
}
