import { Fragment, memo } from 'react';
import { linkify } from '../lib/linkify';

/** Plain text with safe http(s) links. React escapes everything; no HTML is ever parsed. */
export const MessageBody = memo(function MessageBody({ text }: { text: string }) {
  return (
    <div className="msg-body" data-testid="message-body">
      {linkify(text).map((s, i) =>
        s.kind === 'link' ? (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer">
            {s.text}
          </a>
        ) : (
          <Fragment key={i}>{s.text}</Fragment>
        ),
      )}
    </div>
  );
});
