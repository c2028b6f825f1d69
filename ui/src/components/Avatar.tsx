import { hue, initials } from '../lib/names';

export function Avatar({
  name,
  seed,
  size = 'md',
  online,
  group,
}: {
  name: string;
  seed: string;
  size?: 'sm' | 'md' | 'lg';
  online?: boolean | undefined;
  group?: boolean;
}) {
  return (
    <span className={`avatar avatar-${size} hue-${hue(seed) % 10}${group ? ' avatar-group' : ''}`} aria-hidden="true">
      {group ? '#' : initials(name)}
      {online !== undefined && <span className={`presence-dot ${online ? 'is-online' : 'is-offline'}`} />}
    </span>
  );
}
