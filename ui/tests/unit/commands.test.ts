import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../../src/api/http';
import { Commands } from '../../src/app/commands';
import { RoomsStore } from '../../src/store/rooms';
import type { Member } from '../../src/wire/types';
import { room } from './fakes';

function setup(me: string | null = 'ana') {
  const rooms = new RoomsStore();
  const member = (username: string, role: Member['role']): Member => ({ username, name: 'Cy', role, read_up_to: 0 });
  const api = {
    createRoom: vi.fn<Api['createRoom']>(async (name) => room('r9', { name })),
    openDm: vi.fn<Api['openDm']>(async () => room('d1', { kind: 'dm', name: '' })),
    renameRoom: vi.fn<Api['renameRoom']>(async (id, name) => room(id, { name })),
    deleteRoom: vi.fn<Api['deleteRoom']>(async () => {}),
    addMember: vi.fn<Api['addMember']>(async (_id, u, role = 'member') => member(u, role)),
    setRole: vi.fn<Api['setRole']>(async (_id, u, role) => member(u, role)),
    removeMember: vi.fn<Api['removeMember']>(async () => {}),
  };
  const loader = { fetchRoom: vi.fn(async () => null), leftRoom: vi.fn() };
  const commands = new Commands({ api, rooms, loader, me: () => me });
  rooms.upsert(room('r1'));
  return { rooms, api, loader, commands };
}

describe('Commands', () => {
  it('createRoom trims the name and shows the room at once', async () => {
    const { commands, api, rooms } = setup();
    const r = await commands.createRoom('  Plans ', ['bo']);
    expect(api.createRoom).toHaveBeenCalledWith('Plans', ['bo']);
    expect(rooms.room(r.id)!.name).toBe('Plans');
  });

  it('openDm and renameRoom store the server’s room', async () => {
    const { commands, api, rooms } = setup();
    await commands.openDm('bo');
    expect(rooms.room('d1')!.kind).toBe('dm');
    await commands.renameRoom('r1', ' New name ');
    expect(api.renameRoom).toHaveBeenCalledWith('r1', 'New name');
    expect(rooms.room('r1')!.name).toBe('New name');
  });

  it('deleteRoom forgets the room as deleted', async () => {
    const { commands, loader } = setup();
    await commands.deleteRoom('r1');
    expect(loader.leftRoom).toHaveBeenCalledWith('r1', 'deleted');
  });

  it('addMember and setRole apply the returned member; a transfer of ownership refetches the room', async () => {
    const { commands, rooms, loader } = setup();
    await commands.addMember('r1', 'cy');
    expect(rooms.room('r1')!.members.find((m) => m.username === 'cy')).toMatchObject({ role: 'member' });
    await commands.setRole('r1', 'cy', 'admin');
    expect(rooms.room('r1')!.members.find((m) => m.username === 'cy')!.role).toBe('admin');
    expect(loader.fetchRoom).not.toHaveBeenCalled();
    await commands.setRole('r1', 'cy', 'owner');
    expect(loader.fetchRoom).toHaveBeenCalledWith('r1');
  });

  it('removeMember drops the member, or the whole room when it is us', async () => {
    const { commands, rooms, loader } = setup();
    await commands.removeMember('r1', 'bo');
    expect(rooms.room('r1')!.members.map((m) => m.username)).toEqual(['ana']);
    expect(loader.leftRoom).not.toHaveBeenCalled();
    await commands.removeMember('r1', 'ana');
    expect(loader.leftRoom).toHaveBeenCalledWith('r1', 'removed');
  });

  it('leaveRoom removes us; signed out it does nothing', async () => {
    const a = setup();
    await a.commands.leaveRoom('r1');
    expect(a.api.removeMember).toHaveBeenCalledWith('r1', 'ana');
    expect(a.loader.leftRoom).toHaveBeenCalledWith('r1', 'removed');
    const b = setup(null);
    await b.commands.leaveRoom('r1');
    expect(b.api.removeMember).not.toHaveBeenCalled();
  });

  it('a refused command changes nothing and rejects with the server’s error', async () => {
    const { commands, api, rooms } = setup();
    api.renameRoom.mockRejectedValueOnce(new Error('FORBIDDEN'));
    await expect(commands.renameRoom('r1', 'x')).rejects.toThrow('FORBIDDEN');
    expect(rooms.room('r1')!.name).toBe('Room r1');
  });
});
