import type { Room, Username } from '../wire/types';

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/u).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = [...parts[0]!][0] ?? '';
  const second = parts.length > 1 ? ([...parts[parts.length - 1]!][0] ?? '') : '';
  return (first + second).toUpperCase();
}

/** DMs are shown under the other person's name. */
export function dmPeer(room: Room, me: Username | undefined): Room['members'][number] | undefined {
  if (room.kind !== 'dm') return undefined;
  return room.members.find((m) => m.username !== me) ?? room.members[0];
}

export function roomTitle(room: Room, me: Username | undefined): string {
  if (room.kind === 'dm') return dmPeer(room, me)?.name || room.name || 'Direct message';
  return room.name || 'Untitled room';
}

export function displayName(room: Room | undefined, username: Username): string {
  return room?.members.find((m) => m.username === username)?.name || username;
}

/** A stable hue per username, for avatars. */
export function hue(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 360;
}
