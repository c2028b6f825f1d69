import { Component, type ErrorInfo, type ReactNode } from 'react';

/** Last line of defence: a render error shows a way out instead of a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('chatter: render error', error, info.componentStack);
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <main className="splash" role="alert">
        <h1>Something went wrong</h1>
        <p>Your unsent messages are kept and will be sent after a reload.</p>
        <button type="button" className="btn primary" onClick={() => window.location.reload()}>
          Reload Chatter
        </button>
      </main>
    );
  }
}
