/**
 * Rooms and timelines read over REST into the stores, and forgetting a room
 * we are no longer in.
 *
 * A 404 for a room means we were removed from it (or it was deleted) while
 * we were not looking; it is handled like a `member_removed` for us. Loads
 * are idempotent: the stores dedupe by message id and keep the newest
 * room data.
 */
import { ApiError, describeError, type Api } from '../api/http';
import type { MessagesStore } from '../store/messages';
import type { RoomsStore } from '../store/rooms';
import type { UiStore } from '../store/ui';
import type { Room, RoomId } from '../wire/types';

export const PAGE_SIZE = 50;

export interface LoaderDeps {
  api: Pick<Api, 'room' | 'messages'>;
  rooms: RoomsStore;
  messages: MessagesStore;
  ui: UiStore;
}

export class Loader {
  constructor(private readonly d: LoaderDeps) {}

  async fetchRoom(id: RoomId): Promise<Room | null> {
    try {
      const room = await this.d.api.room(id);
      this.d.rooms.upsert(room);
      return room;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'NOT_FOUND') this.leftRoom(id, 'removed');
      return null;
    }
  }

  /** The newest page of a room, once per snapshot (a resync clears `loaded`). */
  async loadLatest(room: RoomId): Promise<void> {
    if (this.d.messages.timeline(room).loaded) return;
    try {
      const page = await this.d.api.messages(room, null, PAGE_SIZE);
      this.d.messages.setLatestPage(room, page.messages, page.has_more);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'NOT_FOUND') this.leftRoom(room, 'removed');
      else this.d.ui.notify(describeError(e), 'error');
    }
  }

  /** The page before the oldest loaded message; one request at a time per room. */
  async loadOlder(room: RoomId): Promise<void> {
    const t = this.d.messages.timeline(room);
    if (!t.loaded || t.loadingOlder || !t.hasMore) return;
    const before = t.messages[0]?.id ?? null;
    this.d.messages.setLoadingOlder(room, true);
    try {
      const page = await this.d.api.messages(room, before, PAGE_SIZE);
      this.d.messages.prependPage(room, page.messages, page.has_more);
    } catch (e) {
      this.d.messages.setLoadingOlder(room, false);
      this.d.ui.notify(describeError(e), 'error');
    }
  }

  /** Drop a room and its timeline; if it was open, close it and say why. */
  leftRoom(room: RoomId, why: 'removed' | 'deleted'): void {
    const r = this.d.rooms.room(room);
    this.d.rooms.remove(room);
    this.d.messages.dropRoom(room);
    if (this.d.ui.get().activeRoom === room) {
      this.d.ui.setActiveRoom(null);
      if (r)
        this.d.ui.notify(
          why === 'deleted' ? `“${r.name}” was deleted.` : `You are no longer a member of “${r.name}”.`,
          'info',
        );
    }
  }
}
