/** Time formatting for the sidebar, dividers and tooltips (local time zone). */

export function parseTime(t: string | null | undefined): Date | null {
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function sameDay(a: Date, b: Date): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** Short relative time for lists: "now", "5m", "3h", "Yesterday", "Mon", "12 Mar", "12 Mar 2024". */
export function relativeShort(t: string | null | undefined, now: Date): string {
  const d = parseTime(t);
  if (!d) return '';
  const s = Math.round((now.getTime() - d.getTime()) / 1000);
  if (s < 45) return 'now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))}m`;
  if (sameDay(d, now)) return `${Math.floor(s / 3600)}h`;
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86_400_000);
  if (days === 1) return 'Yesterday';
  if (days < 7) return d.toLocaleDateString(undefined, { weekday: 'short' });
  if (d.getFullYear() === now.getFullYear()) return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** "last seen 5 minutes ago" style. */
export function lastSeenText(t: string | null | undefined, now: Date): string {
  const d = parseTime(t);
  if (!d) return 'offline';
  const s = Math.round((now.getTime() - d.getTime()) / 1000);
  if (s < 60) return 'last seen just now';
  if (s < 3600) {
    const m = Math.round(s / 60);
    return `last seen ${m} minute${m === 1 ? '' : 's'} ago`;
  }
  if (sameDay(d, now)) return `last seen today at ${clock(d)}`;
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86_400_000);
  if (days === 1) return `last seen yesterday at ${clock(d)}`;
  return `last seen ${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' })}`;
}

export function clock(d: Date): string {
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

export function dayLabel(d: Date, now: Date): string {
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return d.toLocaleDateString(undefined, {
    weekday: days < 7 ? 'long' : undefined,
    day: 'numeric',
    month: 'long',
    year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric',
  });
}

export function fullTime(t: string | null | undefined): string {
  const d = parseTime(t);
  return d ? d.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' }) : '';
}
