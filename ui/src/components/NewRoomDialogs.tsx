import { useId, useState, type FormEvent } from 'react';
import { useChat } from './context';
import { Dialog } from './Dialog';
import { UserPicker } from './UserPicker';
import { describeError } from '../api/http';
import type { User } from '../wire/types';
import { Name } from './Names';

export function NewGroupDialog({ onClose }: { onClose: () => void }) {
  const chat = useChat();
  const [name, setName] = useState('');
  const [members, setMembers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const me = chat.me?.username ?? '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError('Give the group a name.');
    setBusy(true);
    setError(null);
    try {
      const room = await chat.createRoom(
        name,
        members.map((m) => m.username),
      );
      chat.setActiveRoom(room.id);
      onClose();
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title="New group" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} className="stack">
        <label htmlFor={`${id}-name`}>Group name</label>
        <input
          id={`${id}-name`}
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          autoFocus
          required
        />
        <UserPicker
          label="Add members"
          exclude={[me, ...members.map((m) => m.username)]}
          onPick={(u) => setMembers((ms) => [...ms, u])}
        />
        {members.length > 0 && (
          <ul className="chips" aria-label="Selected members">
            {members.map((m) => (
              <li key={m.username} className="chip">
                <Name>{m.name}</Name>
                <button
                  type="button"
                  className="chip-x"
                  aria-label={`Remove ${m.name}`}
                  onClick={() => setMembers((ms) => ms.filter((x) => x.username !== m.username))}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create group'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function NewDmDialog({ onClose }: { onClose: () => void }) {
  const chat = useChat();
  const [error, setError] = useState<string | null>(null);
  const me = chat.me?.username ?? '';
  const pick = async (u: User) => {
    setError(null);
    try {
      const room = await chat.openDm(u.username);
      chat.setActiveRoom(room.id);
      onClose();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <Dialog title="New message" onClose={onClose}>
      <div className="stack">
        <UserPicker label="To" exclude={[me]} onPick={(u) => void pick(u)} autoFocus />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
      </div>
    </Dialog>
  );
}
