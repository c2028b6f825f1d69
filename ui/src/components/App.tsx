import { useStore } from '../store/store';
import { useChat } from './context';
import { AuthScreen } from './AuthScreen';
import { Shell } from './Shell';

export function App() {
  const chat = useChat();
  const status = useStore(chat.session, (s) => s.status);
  if (status === 'loading') {
    return (
      <div className="splash" role="status" aria-live="polite">
        <div className="splash-logo" aria-hidden="true" />
        <p>Loading Chatter…</p>
      </div>
    );
  }
  if (status === 'anonymous') return <AuthScreen />;
  return <Shell />;
}
