/**
 * View state that is not data: the open room, the one notice shown at a
 * time, and the text of the polite ARIA live region. Each notice gets a new
 * id so the same text shown twice is still a new notice.
 */
import { Store } from './store';
import type { RoomId } from '../wire/types';

export interface Notice {
  id: number;
  text: string;
  kind: 'info' | 'error';
}

export interface UiState {
  activeRoom: RoomId | null;
  notice: Notice | null;
  /** Text for the polite ARIA live region. */
  announcement: string;
}

const EMPTY: UiState = { activeRoom: null, notice: null, announcement: '' };

export class UiStore extends Store<UiState> {
  private noticeSeq = 0;

  constructor() {
    super(EMPTY);
  }

  setActiveRoom(id: RoomId | null): void {
    this.set((s) => (s.activeRoom === id ? s : { ...s, activeRoom: id }));
  }

  notify(text: string, kind: Notice['kind'] = 'info'): void {
    this.set((s) => ({ ...s, notice: { id: ++this.noticeSeq, text, kind } }));
  }

  dismissNotice(): void {
    this.set((s) => ({ ...s, notice: null }));
  }

  announce(text: string): void {
    this.set((s) => ({ ...s, announcement: text }));
  }

  /** Signed out: nothing open, nothing shown. */
  clear(): void {
    this.set({ ...EMPTY });
  }
}
