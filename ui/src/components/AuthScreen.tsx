import { useId, useState, type FormEvent } from 'react';
import { useChat } from './context';
import { useStore } from '../store/store';
import { ApiError, describeError } from '../api/http';
import { USERNAME_RE } from '../wire/types';

type Field = 'username' | 'name' | 'password';

/** The field a server refusal is about: taken names, and INVALID_INPUT messages, which start with the field. */
export function fieldOf(err: unknown, mode: 'login' | 'signup'): Field | null {
  if (mode !== 'signup' || !(err instanceof ApiError)) return null;
  if (err.code === 'CONFLICT') return 'username';
  if (err.code !== 'INVALID_INPUT') return null;
  const m = /^(username|name|password)\b/.exec(err.message);
  return m ? (m[1] as Field) : null;
}

export function AuthScreen() {
  const chat = useChat();
  const notice = useStore(chat.session, (s) => s.notice);
  const [mode, setMode] = useState<'login' | 'signup'>('login');
  const [username, setUsername] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setErrorState] = useState<string | null>(null);
  const [errorField, setErrorField] = useState<Field | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  const fieldIds: Record<Field, string> = { username: `${id}-u`, name: `${id}-n`, password: `${id}-p` };
  /** Show an error; one about a field is tied to it (aria-invalid, aria-describedby) and focuses it. */
  function setError(text: string | null, field: Field | null = null) {
    setErrorState(text);
    setErrorField(text ? field : null);
    if (text && field) document.getElementById(fieldIds[field])?.focus();
  }
  const invalid = (f: Field) => (errorField === f ? true : undefined);
  const describedBy = (f: Field, ...more: string[]) =>
    [...more, ...(errorField === f ? [`${id}-err`] : [])].join(' ') || undefined;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const u = username.trim().toLowerCase();
    if (mode === 'signup') {
      if (!USERNAME_RE.test(u))
        return setError('Usernames are 3–32 characters: lowercase letters, digits and _.', 'username');
      if (!name.trim()) return setError('Please enter your display name.', 'name');
      if ([...password].length < 8) return setError('Passwords need at least 8 characters.', 'password');
    }
    setBusy(true);
    try {
      if (mode === 'signup') await chat.signup(u, name, password);
      else await chat.login(u, password);
    } catch (err) {
      setError(describeError(err, mode), fieldOf(err, mode));
      setBusy(false);
    }
  }

  const switchTo = (m: 'login' | 'signup') => {
    setMode(m);
    setError(null);
  };

  // Under the field it is about, else above the submit button.
  const errorEl = error && (
    <p className="form-error" id={`${id}-err`} role="alert">
      {error}
    </p>
  );
  return (
    <main className="auth">
      <div className="auth-card">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <h1>Chatter</h1>
        </div>
        <p className="auth-sub">{mode === 'login' ? 'Welcome back. Log in to continue.' : 'Create your account.'}</p>
        <div
          className="seg"
          role="tablist"
          aria-label="Account"
          onKeyDown={(e) => {
            if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
            const next = mode === 'login' ? 'signup' : 'login';
            switchTo(next);
            document.getElementById(`${id}-tab-${next}`)?.focus();
          }}
        >
          <button
            role="tab"
            id={`${id}-tab-login`}
            type="button"
            aria-selected={mode === 'login'}
            aria-controls={`${id}-panel`}
            tabIndex={mode === 'login' ? 0 : -1}
            className={mode === 'login' ? 'on' : ''}
            onClick={() => switchTo('login')}
          >
            Log in
          </button>
          <button
            role="tab"
            id={`${id}-tab-signup`}
            type="button"
            aria-selected={mode === 'signup'}
            aria-controls={`${id}-panel`}
            tabIndex={mode === 'signup' ? 0 : -1}
            className={mode === 'signup' ? 'on' : ''}
            onClick={() => switchTo('signup')}
          >
            Sign up
          </button>
        </div>
        {notice && !error && (
          <p className="banner-inline info" role="status">
            {notice}
          </p>
        )}
        <form
          onSubmit={(e) => void submit(e)}
          noValidate
          aria-describedby={error && !errorField ? `${id}-err` : undefined}
          id={`${id}-panel`}
          role="tabpanel"
          aria-labelledby={`${id}-tab-${mode}`}
        >
          <label htmlFor={`${id}-u`}>Username</label>
          <input
            id={`${id}-u`}
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
            aria-invalid={invalid('username')}
            aria-describedby={describedBy('username')}
            autoFocus
          />
          {errorField === 'username' && errorEl}
          {mode === 'signup' && (
            <>
              <label htmlFor={`${id}-n`}>Display name</label>
              <input
                id={`${id}-n`}
                name="name"
                autoComplete="name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                required
                aria-invalid={invalid('name')}
                aria-describedby={describedBy('name')}
                maxLength={100}
              />
            </>
          )}
          <label htmlFor={`${id}-p`}>Password</label>
          <input
            id={`${id}-p`}
            name="password"
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            minLength={mode === 'signup' ? 8 : undefined}
            aria-invalid={invalid('password')}
            aria-describedby={describedBy('password', ...(mode === 'signup' ? [`${id}-p-hint`] : []))}
          />
          {mode === 'signup' && (
            <p className="hint" id={`${id}-p-hint`}>
              At least 8 characters.
            </p>
          )}
          {errorField === 'password' && errorEl}
          {!errorField && errorEl}
          <button className="btn primary wide" type="submit" disabled={busy}>
            {busy ? 'Please wait…' : mode === 'login' ? 'Log in' : 'Create account'}
          </button>
        </form>
      </div>
    </main>
  );
}
