import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './components/App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { ChatContext } from './components/context';
import { Chat } from './app/chat';
import { onUnauthenticated } from './api/http';
import './styles.css';

const chat = new Chat();
onUnauthenticated(() => chat.sessionExpired());
void chat.boot();
// Exposed for debugging in the console only; nothing depends on it.
(window as unknown as { chatter?: Chat }).chatter = chat;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ChatContext.Provider value={chat}>
      <ErrorBoundary>
        <App />
      </ErrorBoundary>
    </ChatContext.Provider>
  </StrictMode>,
);
