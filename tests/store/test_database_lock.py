"""chatter.store.lock: one holder per database file, a record that names it, released with the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from chatter.errors import ConfigError, Unavailable
from chatter.store import lock


def test_a_second_acquire_is_refused_naming_the_holder_and_works_after_release(tmp_path):
    db = tmp_path / "chatter.db"
    first = lock.acquire(db, role="server")
    with pytest.raises(Unavailable) as info:
        lock.acquire(db, role="server")  # the same process counts: one server per file
    message = info.value.message
    assert message.startswith(f"database {db} is in use by another Chatter server (pid {os.getpid()}, started ")
    assert message.endswith("; stop it first or use another --db")
    first.release()
    with lock.acquire(db, role="restore"):
        holder = lock.read_holder(db)
        assert holder is not None and holder.pid == os.getpid() and holder.role == "restore"
        with pytest.raises(Unavailable, match="in use by a running `chatter restore`.*; try later"):
            lock.acquire(db, then="try later")
    assert lock.lock_path(db).exists(), "never deleted: the next starter must lock the same file"


def test_the_kernel_releases_it_when_the_holder_is_killed(tmp_path):
    db = tmp_path / "chatter.db"
    code = ("import sys; from chatter.store import lock; lock.acquire(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE,  # noqa: S603
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(Unavailable, match=f"pid {holder.pid}"):
            lock.acquire(db)
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with lock.acquire(db):
        holder_record = lock.read_holder(db)
        assert holder_record is not None and holder_record.pid == os.getpid()


def test_a_missing_or_garbled_record_is_no_holder(tmp_path):
    db = tmp_path / "chatter.db"
    assert lock.read_holder(db) is None
    lock.lock_path(db).write_text("not json")
    assert lock.read_holder(db) is None
    lock.lock_path(db).write_text('{"pid": "x"}')
    assert lock.read_holder(db) is None
    with lock.acquire(db):  # a garbled file is overwritten, not a reason to refuse
        assert lock.read_holder(db) is not None


def test_a_lock_file_that_cannot_be_opened_is_one_line(tmp_path):
    db = tmp_path / "chatter.db"
    lock.lock_path(db).mkdir()
    with pytest.raises(ConfigError, match=r"cannot open its lock file .*chatter\.db\.lock") as info:
        lock.acquire(db)
    assert "\n" not in str(info.value)
