import { useId, useState, type FormEvent } from 'react';
import { useChat } from './context';
import { useStore } from '../store/store';
import { Dialog } from './Dialog';
import { describeError } from '../api/http';

export function ProfileDialog({ onClose }: { onClose: () => void }) {
  const chat = useChat();
  const me = useStore(chat.session, (s) => s.me);
  const [name, setName] = useState(me?.name ?? '');
  const [nameMsg, setNameMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [pwMsg, setPwMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  const saveName = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setNameMsg({ ok: false, text: 'Your name cannot be empty.' });
    setBusy(true);
    try {
      await chat.updateName(name);
      setNameMsg({ ok: true, text: 'Saved.' });
    } catch (err) {
      setNameMsg({ ok: false, text: describeError(err) });
    } finally {
      setBusy(false);
    }
  };

  const savePassword = async (e: FormEvent) => {
    e.preventDefault();
    if ([...next].length < 8) return setPwMsg({ ok: false, text: 'The new password needs at least 8 characters.' });
    if (next !== confirm) return setPwMsg({ ok: false, text: 'The new passwords do not match.' });
    setBusy(true);
    try {
      await chat.changePassword(current, next);
      setPwMsg({ ok: true, text: 'Password changed. Other sessions have been logged out.' });
      setCurrent('');
      setNext('');
      setConfirm('');
    } catch (err) {
      setPwMsg({ ok: false, text: describeError(err, 'password') });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Your profile" onClose={onClose}>
      <form onSubmit={(e) => void saveName(e)} className="stack">
        <p className="muted">
          Signed in as <strong>@{me?.username}</strong>
        </p>
        <label htmlFor={`${id}-name`}>Display name</label>
        <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required />
        {nameMsg && (
          <p className={nameMsg.ok ? 'form-ok' : 'form-error'} role={nameMsg.ok ? 'status' : 'alert'}>
            {nameMsg.text}
          </p>
        )}
        <div className="dialog-actions">
          <button type="submit" className="btn primary" disabled={busy}>
            Save name
          </button>
        </div>
      </form>
      <hr />
      <form onSubmit={(e) => void savePassword(e)} className="stack">
        <h3>Change password</h3>
        <label htmlFor={`${id}-cur`}>Current password</label>
        <input
          id={`${id}-cur`}
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          required
        />
        <label htmlFor={`${id}-new`}>New password</label>
        <input
          id={`${id}-new`}
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={(e) => setNext(e.target.value)}
          required
          minLength={8}
        />
        <label htmlFor={`${id}-conf`}>Repeat new password</label>
        <input
          id={`${id}-conf`}
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          required
          minLength={8}
        />
        {pwMsg && (
          <p className={pwMsg.ok ? 'form-ok' : 'form-error'} role={pwMsg.ok ? 'status' : 'alert'}>
            {pwMsg.text}
          </p>
        )}
        <div className="dialog-actions">
          <button type="submit" className="btn primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
      <hr />
      <div className="dialog-actions">
        <button type="button" className="btn danger" onClick={() => void chat.logout()}>
          Log out
        </button>
      </div>
    </Dialog>
  );
}
