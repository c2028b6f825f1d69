/**
 * Room and member commands over REST. Each one applies the server's answer
 * to the stores at once, so the view does not wait for the matching socket
 * event (which arrives too and is idempotent).
 *
 * A new command is a method here (and a one-line delegate on `Chat`); errors
 * are the caller's to show (the views turn ApiError into text).
 */
import type { Api } from '../api/http';
import type { Loader } from './loader';
import type { RoomsStore } from '../store/rooms';
import type { Role, Room, RoomId, Username } from '../wire/types';

export interface CommandsDeps {
  api: Pick<Api, 'createRoom' | 'openDm' | 'renameRoom' | 'deleteRoom' | 'addMember' | 'setRole' | 'removeMember'>;
  rooms: RoomsStore;
  loader: Pick<Loader, 'fetchRoom' | 'leftRoom'>;
  me: () => Username | null;
}

export class Commands {
  constructor(private readonly d: CommandsDeps) {}

  async createRoom(name: string, members: Username[]): Promise<Room> {
    const room = await this.d.api.createRoom(name.trim(), members);
    this.d.rooms.upsert(room);
    return room;
  }

  async openDm(username: Username): Promise<Room> {
    const room = await this.d.api.openDm(username);
    this.d.rooms.upsert(room);
    return room;
  }

  async renameRoom(id: RoomId, name: string): Promise<void> {
    this.d.rooms.upsert(await this.d.api.renameRoom(id, name.trim()));
  }

  async deleteRoom(id: RoomId): Promise<void> {
    await this.d.api.deleteRoom(id);
    this.d.loader.leftRoom(id, 'deleted');
  }

  async addMember(id: RoomId, username: Username, role: 'member' | 'admin' = 'member'): Promise<void> {
    const m = await this.d.api.addMember(id, username, role);
    this.d.rooms.upsertMember(id, m);
  }

  async setRole(id: RoomId, username: Username, role: Role): Promise<void> {
    const m = await this.d.api.setRole(id, username, role);
    this.d.rooms.upsertMember(id, m);
    // Ownership transfer demotes us to admin (the server also sends member_updated).
    if (role === 'owner') await this.d.loader.fetchRoom(id);
  }

  async removeMember(id: RoomId, username: Username): Promise<void> {
    await this.d.api.removeMember(id, username);
    if (username === this.d.me()) this.d.loader.leftRoom(id, 'removed');
    else this.d.rooms.removeMember(id, username);
  }

  async leaveRoom(id: RoomId): Promise<void> {
    const me = this.d.me();
    if (!me) return;
    await this.d.api.removeMember(id, me);
    this.d.loader.leftRoom(id, 'removed');
  }
}
