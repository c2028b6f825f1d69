import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useChat } from './context';
import { useStore } from '../store/store';
import { MAX_BODY_CHARS } from '../wire/types';
import { roomTitle } from '../lib/names';
import { Icon } from './Icon';

/** Drafts survive switching rooms (not reloads). */
const drafts = new Map<string, string>();

export function Composer({ roomId }: { roomId: string }) {
  const chat = useChat();
  const room = useStore(chat.rooms, (s) => s.byId[roomId]);
  const me = useStore(chat.session, (s) => s.me?.username);
  const [text, setText] = useState(() => drafts.get(roomId) ?? '');
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const hintId = useId();
  const length = [...text].length;
  const over = length > MAX_BODY_CHARS;

  useEffect(() => {
    drafts.set(roomId, text);
  }, [roomId, text]);
  useEffect(() => {
    // Focus the composer when a room opens, except on touch screens (keyboard pop-up).
    if (!window.matchMedia?.('(pointer: coarse)').matches) ref.current?.focus();
    return () => chat.setTyping(roomId, false);
  }, [chat, roomId]);

  const send = async () => {
    if (!text.trim() || over) return;
    setError(null);
    try {
      await chat.send(roomId, text);
      setText('');
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Could not send.');
    }
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  const placeholder = room ? `Message ${room.kind === 'dm' ? '' : '#'}${roomTitle(room, me)}` : 'Message';
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <label htmlFor="composer-input" className="sr-only">
        Message
      </label>
      <textarea
        id="composer-input"
        ref={ref}
        rows={1}
        value={text}
        placeholder={placeholder}
        aria-describedby={hintId}
        aria-invalid={over || undefined}
        onChange={(e) => {
          setText(e.target.value);
          chat.setTyping(roomId, e.target.value.trim().length > 0);
        }}
        onBlur={() => chat.setTyping(roomId, false)}
        onKeyDown={onKeyDown}
        data-testid="composer"
      />
      <button type="submit" className="btn primary send-btn" disabled={!text.trim() || over} aria-label="Send message">
        <Icon name="send" size={20} />
      </button>
      <p id={hintId} className={`composer-hint ${over ? 'over' : ''}`}>
        {error ? (
          <span role="alert">{error}</span>
        ) : length > MAX_BODY_CHARS - 500 ? (
          `${length} / ${MAX_BODY_CHARS}`
        ) : (
          <span className="kbd-hint">Enter to send · Shift+Enter for a new line</span>
        )}
      </p>
    </form>
  );
}
