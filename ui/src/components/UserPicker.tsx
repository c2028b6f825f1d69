import { useEffect, useId, useState } from 'react';
import { useChat } from './context';
import { Avatar } from './Avatar';
import type { User } from '../wire/types';
import { Name } from './Names';

/** Search users by username prefix (GET /api/users?q=) and pick one. */
export function UserPicker({
  onPick,
  exclude = [],
  label = 'Search people',
  autoFocus,
}: {
  onPick: (u: User) => void;
  exclude?: string[];
  label?: string;
  autoFocus?: boolean;
}) {
  const chat = useChat();
  const [q, setQ] = useState('');
  const [results, setResults] = useState<User[]>([]);
  const [state, setState] = useState<'idle' | 'loading' | 'error'>('idle');
  const id = useId();

  useEffect(() => {
    const query = q.trim().toLowerCase();
    if (!query) {
      setResults([]);
      setState('idle');
      return;
    }
    let live = true;
    setState('loading');
    const t = setTimeout(() => {
      chat.api.searchUsers(query).then(
        (us) => {
          if (live) {
            setResults(us);
            setState('idle');
          }
        },
        () => {
          if (live) setState('error');
        },
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [chat, q]);

  const shown = results.filter((u) => !exclude.includes(u.username));
  return (
    <div className="picker">
      <label htmlFor={`${id}-q`}>{label}</label>
      <input
        id={`${id}-q`}
        type="search"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        placeholder="Type a username…"
        autoComplete="off"
        autoCapitalize="none"
        spellCheck={false}
        autoFocus={autoFocus}
        aria-controls={`${id}-list`}
      />
      <ul id={`${id}-list`} className="picker-list" aria-label="Matching people" aria-busy={state === 'loading'}>
        {state === 'error' && <li className="muted">Search failed. Try again.</li>}
        {state === 'idle' && q.trim() && shown.length === 0 && <li className="muted">No one found.</li>}
        {shown.map((u) => (
          <li key={u.username}>
            <button type="button" className="picker-item" onClick={() => onPick(u)} data-username={u.username}>
              <Avatar name={u.name} seed={u.username} size="sm" />
              <span className="picker-name">
                <Name>{u.name}</Name>
              </span>
              <span className="muted">@{u.username}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
