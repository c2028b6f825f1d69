import { createContext, useContext, useEffect, useState } from 'react';
import type { Chat } from '../app/chat';

export const ChatContext = createContext<Chat | null>(null);

export function useChat(): Chat {
  const c = useContext(ChatContext);
  if (!c) throw new Error('ChatContext missing');
  return c;
}

/** The current time, refreshed every `ms` (for relative times). */
export function useNow(ms = 30_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Window focused and page visible: the condition for marking messages read. */
export function useAttention(): boolean {
  const get = () => typeof document !== 'undefined' && document.visibilityState === 'visible' && document.hasFocus();
  const [v, setV] = useState(get);
  useEffect(() => {
    const upd = () => setV(get());
    window.addEventListener('focus', upd);
    window.addEventListener('blur', upd);
    document.addEventListener('visibilitychange', upd);
    return () => {
      window.removeEventListener('focus', upd);
      window.removeEventListener('blur', upd);
      document.removeEventListener('visibilitychange', upd);
    };
  }, []);
  return v;
}
