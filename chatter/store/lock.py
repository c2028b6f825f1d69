"""The database lock: at most one Chatter server (or restore, or migrate) per database file.

Two servers on one file would each run their own writer and dispatcher:
users on one would never see what is sent on the other, and ``seq`` order
would no longer be commit order.  So ``chatter serve`` (and ``chatter.asgi``
under plain hypercorn) holds an exclusive ``flock`` on ``<db>.lock`` for its
whole lifetime; ``restore`` and ``migrate`` hold it while they run.
``backup``, ``doctor``, ``create-user`` and ``reset-password`` never take it:
they are safe beside a server (WAL lets their short transactions in).

Invariants:
- The lock is the kernel's: it goes away when the holder's process ends in
  any way, SIGKILL included, so a stale file never blocks a start.
- The file is never deleted: a process that unlinked it while another had it
  open would let the next two starters lock two different files.
- The holder writes one JSON line (pid, host, start time, role, command) into
  the file after locking, for the refusal message and ``chatter doctor``.
  A reader may find it empty in the instant between lock and write.
- Locks are per open file description, so a second acquire in the same
  process is refused too (two servers in one test process are two servers).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chatter.errors import ConfigError, Unavailable

ROLES = {"server": "another Chatter server", "restore": "a running `chatter restore`",
         "migrate": "a running `chatter migrate`"}


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    db = Path(db_path)
    return db.with_name(db.name + ".lock")


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) the lock, as recorded in the file."""

    pid: int
    host: str
    started: str
    role: str
    command: str

    def describe(self) -> str:
        here = self.host == socket.gethostname()
        return f"pid {self.pid}{'' if here else ' on ' + self.host}, started {self.started}"


def read_holder(db_path: str | os.PathLike[str]) -> Holder | None:
    """The record in the lock file, or None (no file, empty, or not ours)."""
    try:
        data = json.loads(lock_path(db_path).read_text(encoding="utf-8"))
        return Holder(pid=int(data["pid"]), host=str(data["host"]), started=str(data["started"]),
                      role=str(data.get("role", "server")), command=str(data.get("command", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class DatabaseLock:
    """An acquired lock; ``release()`` (or the end of the process) gives it back."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> DatabaseLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(db_path: str | os.PathLike[str], *, role: str = "server",
            then: str = "stop it first or use another --db") -> DatabaseLock:
    """Take the lock for ``db_path`` without waiting; ``Unavailable`` naming the holder if taken.

    ``then`` is the advice appended to the refusal.
    """
    db = Path(db_path)
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise ConfigError(f"store.path {db}: cannot open its lock file {path} ({e.strerror}); "
                          f"the directory and {path.name} must be writable by uid {os.getuid()}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise ConfigError(f"store.path {db}: cannot lock {path} ({e.strerror}); "
                              "put the database on a local file system") from None
        holder = read_holder(db)
        who = ROLES.get(holder.role, ROLES["server"]) if holder else ROLES["server"]
        detail = f" ({holder.describe()})" if holder else ""
        raise Unavailable(f"database {db} is in use by {who}{detail}; {then}") from None
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "role": role, "command": " ".join(sys.argv)[:500]}
    data = (json.dumps(record) + "\n").encode()
    # Overwrite in place, then cut: a reader sees the old record or the new one, not an empty file.
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))
    return DatabaseLock(path, fd)


__all__ = ["ROLES", "DatabaseLock", "Holder", "acquire", "lock_path", "read_holder"]
