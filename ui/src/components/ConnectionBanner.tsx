import { useEffect, useState } from 'react';
import { useChat } from './context';
import { useStore } from '../store/store';

/** Shown while the live connection is not up (after a short grace at start). */
export function ConnectionBanner() {
  const chat = useChat();
  const st = useStore(chat.connection, (s) => s);
  const [, tick] = useState(0);
  const [grace, setGrace] = useState(true);
  useEffect(() => {
    const t = setTimeout(() => setGrace(false), 1500);
    return () => clearTimeout(t);
  }, []);
  useEffect(() => {
    if (st.state !== 'backoff') return;
    const t = setInterval(() => tick((x) => x + 1), 1000);
    return () => clearInterval(t);
  }, [st.state]);

  let text: string | null;
  let action = false;
  switch (st.state) {
    case 'open':
      text = st.synced ? null : 'Syncing…';
      break;
    case 'offline':
      text = 'You are offline. Messages you send will be delivered when you reconnect.';
      break;
    case 'backoff': {
      const secs = st.retryAt ? Math.max(0, Math.ceil((st.retryAt - Date.now()) / 1000)) : 0;
      text = `Connection lost. Reconnecting${secs > 0 ? ` in ${secs} s` : '…'}`;
      action = true;
      break;
    }
    case 'connecting':
    case 'handshaking':
      text = st.attempt > 0 ? 'Reconnecting…' : grace ? null : 'Connecting…';
      break;
    default:
      text = null;
  }
  return (
    <div
      className={`conn-banner ${text ? 'show' : ''} ${st.state}`}
      role="status"
      aria-live="polite"
      data-testid="connection-banner"
      data-state={st.state}
      data-last-close={st.lastClose ?? undefined}
    >
      {text && (
        <>
          <span className="conn-dot" aria-hidden="true" />
          <span>{text}</span>
          {action && (
            <button type="button" className="link-btn" onClick={() => chat.reconnectNow()}>
              Retry now
            </button>
          )}
        </>
      )}
    </div>
  );
}
