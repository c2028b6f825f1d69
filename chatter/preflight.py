"""Start-up checks: every path the server will use, and its key, before anything binds.

``preflight(cfg)`` is called by ``chatter serve`` and ``chatter.asgi`` before
the database lock, the store and the listening socket.  Each failure is a
``ConfigError`` with one line ``<setting> <path>: <what is wrong>; <what to
do>``, which the CLI prints as ``chatter: ...`` with exit 2.  The same
functions check other commands' paths (``writable_dir`` for backup targets).

What is checked, and why here rather than when opening:
- ``store.path``: not a directory; its directory exists and is writable
  (SQLite creates ``-wal``, ``-shm`` and the lock file beside it, so a
  writable file in a read-only directory still fails); an existing file and
  its ``-wal``/``-shm`` are readable and writable.  SQLite itself says only
  "unable to open database file", without the path.
- ``auth.secret_file`` (when ``auth.secret`` is empty): an existing file is
  readable and holds a strong key (outside dev mode), checked also when the
  file is set, which is always the case in the container image; a missing
  one can be created.  ``auth.secret``, when set, is checked as before.
- ``server.ui_dir``, when set, is a directory.
- A read-only file system is named as such (``statvfs``), since permission
  advice would not help there; otherwise the advice names this process's
  uid, and inside a container the ``:U`` bind-mount option.

``os.access`` is used for the permission questions because it answers for
this process's real uid and also reports a read-only file system to root.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from chatter.config import MIN_SECRET_BYTES, Config, check_secret, weak_key
from chatter.errors import ConfigError

# Files whose presence means "this process runs in a container" (podman writes the
# first into every container, docker the second).
CONTAINER_MARKERS = ("/run/.containerenv", "/.dockerenv")


def in_container() -> bool:
    return any(os.path.exists(p) for p in CONTAINER_MARKERS)


def read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _owner(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return ""
    return f" (owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o})"


def not_writable_advice(path: Path, *, uid: int | None = None, container: bool | None = None) -> str:
    """What to do about a file or directory this process cannot write."""
    uid = os.getuid() if uid is None else uid
    container = in_container() if container is None else container
    advice = f"make it writable by uid {uid} (chown {uid} {path})"
    if container:
        advice += "; for a bind mount, add :U to the volume (-v /host/dir:/data:U) or chown the host directory"
    return advice


def writable_dir(directory: Path, setting: str, target: Path, *, fix: str) -> None:
    """``directory`` exists and this process may create files in it; else ConfigError naming ``target``."""
    where = f"{setting} {target}"
    if not directory.exists():
        raise ConfigError(f"{where}: directory {directory} does not exist; create it (mkdir -p {directory}) "
                          f"or {fix}")
    if not directory.is_dir():
        raise ConfigError(f"{where}: {directory} is not a directory; {fix}")
    if not os.access(directory, os.W_OK | os.X_OK):
        if read_only_fs(directory):
            raise ConfigError(f"{where}: directory {directory} is on a read-only file system; "
                              f"mount it read-write or {fix}")
        raise ConfigError(f"{where}: directory {directory} is not writable by uid {os.getuid()}"
                          f"{_owner(directory)}; {not_writable_advice(directory)}")


def read_write_file(path: Path, setting: str, target: Path) -> None:
    """An existing ``path`` is a regular file this process can read and write."""
    where = f"{setting} {target}"
    if not path.is_file():
        raise ConfigError(f"{where}: {path} is not a regular file; move it away or choose another path")
    if not os.access(path, os.R_OK | os.W_OK):
        if read_only_fs(path):
            raise ConfigError(f"{where}: {path} is on a read-only file system; mount it read-write")
        raise ConfigError(f"{where}: {path} is not readable and writable by uid {os.getuid()}{_owner(path)}; "
                          f"{not_writable_advice(path)}")


def check_store_path(raw: str) -> None:
    path = Path(raw)
    if not raw:
        raise ConfigError("store.path is empty; set it to the database file, e.g. --db chatter.db")
    if path.is_dir():
        raise ConfigError(f"store.path {path}: is a directory; give a file name, e.g. --db {path / 'chatter.db'}")
    writable_dir(path.parent, "store.path", path, fix="choose another --db")
    for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if side.exists() or side.is_symlink():
            read_write_file(side, "store.path", path)


def _nearest_existing(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(".")


def check_secret_file(raw: str, *, dev: bool) -> None:
    path = Path(raw)
    where = f"auth.secret_file {path}"
    if path.is_dir():
        raise ConfigError(f"{where}: is a directory; name a file (it is created with a random key if missing)")
    if not path.exists():
        # service.accounts.read_secret_file creates the missing directories, then the file.
        writable_dir(_nearest_existing(path), "auth.secret_file", path,
                     fix="point auth.secret_file (CHATTER_AUTH_SECRET_FILE) elsewhere")
        return
    if not path.is_file():
        raise ConfigError(f"{where}: is not a regular file; point auth.secret_file at a file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{where}: not readable by uid {os.getuid()}{_owner(path)}; "
                          f"{not_writable_advice(path).replace('writable', 'readable')}")
    try:
        key = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: is not UTF-8 text; write a key of at least {MIN_SECRET_BYTES} random bytes "
                          f"into it (openssl rand -base64 48 > {path}), or delete it to have one generated") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read it ({e.strerror})") from None
    if dev:
        return
    problem = "is empty" if not key else weak_key(key)
    if problem:
        raise ConfigError(f"{where}: the key in it {problem}; delete the file to have a random key generated "
                          f"at the next start, or write a new one (openssl rand -base64 48 > {path})")


def check_key(cfg: Config) -> None:
    """The JWT key that will be used: auth.secret if set, else auth.secret_file, else (dev) the database."""
    if cfg.auth.secret or not cfg.auth.secret_file:
        reason = check_secret(cfg.auth.secret, dev=cfg.server.dev)
        if reason:
            raise ConfigError(reason)
        return
    check_secret_file(cfg.auth.secret_file, dev=cfg.server.dev)


def check_ui_dir(raw: str) -> None:
    if raw and not Path(raw).is_dir():
        what = "does not exist" if not Path(raw).exists() else "is not a directory"
        raise ConfigError(f"server.ui_dir {raw}: {what}; build the UI (just build-ui) and point at ui/dist, "
                          "or leave server.ui_dir empty for the bundled UI")


def preflight(cfg: Config) -> None:
    """Every start-up check that needs no lock, socket or database; ConfigError on the first failure."""
    check_store_path(cfg.store.path)
    check_key(cfg)
    check_ui_dir(cfg.server.ui_dir)


__all__ = ["check_key", "check_secret_file", "check_store_path", "in_container", "not_writable_advice",
           "preflight", "read_only_fs", "read_write_file", "writable_dir"]
