"""Which mount holds a path, read from ``/proc/self/mountinfo``, and what kind of storage it is.

``chatter doctor`` uses it to warn when the database lives where re-creating
the container loses it: an anonymous volume (the image declares ``VOLUME
/data``, so ``podman run`` without ``-v`` silently makes one) or the
container's own overlay file system.

No guessing from names beyond what podman and docker themselves write: a
volume is mounted from ``.../volumes/<name>/_data`` (the mount's *root*
field), and an anonymous volume's name is 64 hexadecimal characters.
Everything else (a bind mount, a plain disk) is reported as nothing special.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_VOLUME = re.compile(r"/volumes/([^/]+)/_data(?:/|$)")
_ANONYMOUS = re.compile(r"[0-9a-f]{64}")
_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True, slots=True)
class Mount:
    root: str  # the directory of the source file system that is mounted here
    mount_point: str
    options: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040...)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts in a mountinfo text, in file order; malformed lines are skipped.

    A line is ``id parent major:minor root mount-point options [optional...] - fstype source super-options``.
    """
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 3:
            continue
        mounts.append(Mount(root=_unescape(fields[3]), mount_point=_unescape(fields[4]), options=fields[5],
                            fstype=fields[sep + 1], source=_unescape(fields[sep + 2])))
    return mounts


def _contains(mount_point: str, path: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def mount_of(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount that holds ``path`` (absolute, symlinks resolved): the longest mount point
    containing it, the later line winning when one is mounted over another."""
    best: Mount | None = None
    for m in mounts:
        if _contains(m.mount_point, path) and (best is None or len(m.mount_point) >= len(best.mount_point)):
            best = m
    return best


def volume_name(mount: Mount) -> str | None:
    """The podman/docker volume mounted here, or None if this is not a volume."""
    found = _VOLUME.search(mount.root)
    return found.group(1) if found else None


def is_anonymous(name: str) -> bool:
    return bool(_ANONYMOUS.fullmatch(name))


def mount_holding(path: str | os.PathLike[str]) -> Mount | None:
    """The mount of this process that holds ``path`` (its nearest existing ancestor if it does not exist yet)."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = Path(path).absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    return mount_of(str(target.resolve()), parse_mountinfo(mountinfo))


__all__ = ["Mount", "is_anonymous", "mount_holding", "mount_of", "parse_mountinfo", "volume_name"]
