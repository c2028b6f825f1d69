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

/** A sentence made of plain text and names: `["Read by ", {name: "Ana"}]`; names are isolated when rendered. */
export type Part = string | { name: string };

/** The same sentence as plain text (for attributes and tests). */
export function sentenceText(parts: Part[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : p.name)).join('');
}

/** "A, B and C": names joined for a sentence. */
export function listParts(names: string[]): Part[] {
  const out: Part[] = [];
  names.forEach((name, i) => {
    if (i > 0) out.push(i === names.length - 1 ? ' and ' : ', ');
    out.push({ name });
  });
  return out;
}
