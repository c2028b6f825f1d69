"""One socket's server-side state: its bounded outbox and its cursor.

Frames are queued by fan-out (synchronously, never awaiting) and taken by
the socket's single writer task.  Three kinds of frame share the queue:

- control (ready, ack, error, pong, reset): never dropped.  More than
  ``control_frames`` waiting means the client is not reading: close 4008.
- durable (carry ``seq``): when the queue is full they are all dropped and
  the socket *falls behind*; it is then served from the database from the
  last seq its writer took (``sent``), in order, by a catch-up task.  The
  database is the real outbox; memory is only a cache.
- ephemeral (typing, presence): dropped when the queue is full.

Cursor invariant: while ``live``, every durable event visible to the user
with seq <= ``cursor`` has been queued, and events arrive in seq order, so
an offered event with seq <= cursor is a duplicate and is ignored.

Direct writes: a socket whose transport offers a ``DirectWriter`` does not
wake its writer task for each frame.  ``_push`` marks the socket in the
system's ``Flusher`` instead; the flusher (called by the dispatcher after
each committed batch, and by its own task for everything else) takes what
is queued, coalesces it into one frame and writes it straight to the
socket when nothing else is writing.  Only when that is not possible (the
writer is mid-send, the kernel buffer is full, the socket is closing) is
the writer task woken, as before.  Order is kept because frames leave the
queue in order and a direct write happens only while no send is in
progress.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import trio

from chatter.actors.frames import coalesce
from chatter.store.models import Username

if TYPE_CHECKING:
    from chatter.metrics import Metrics

CONTROL = -1
EPHEMERAL = 0

_ids = itertools.count(1)


class DirectWriter(Protocol):
    """What the transport offers for writing a frame without a task switch (``http/hypercorn_seam.py``)."""

    def ready(self) -> bool:
        """True when a frame written now would go out in order (no send in progress, socket open)."""

    def write(self, text: str) -> bool:
        """Write one text frame now; False if some of it waits for the writer task (``flush``)."""


class Flusher:
    """Conns with frames queued since the last flush; flushed in one pass, not one task each."""

    def __init__(self) -> None:
        self._dirty: dict[int, Socket] = {}
        self._wake = trio.Event()

    def mark(self, socket: Socket) -> None:
        self._dirty[socket.id] = socket
        self._wake.set()

    def flush(self) -> None:
        while self._dirty:
            dirty, self._dirty = self._dirty, {}
            for socket in dirty.values():
                socket.flush()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Flush what producers other than the dispatcher queued, once per scheduler pass."""
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            self.flush()


class Socket:
    """One client socket as the server sees it; the one name for it in the server (the socket
    endpoint's per-socket handler state is ``http.ws.Endpoint``, the browser's side ``SocketClient``)."""

    def __init__(self, user: Username, token_version: int, *, capacity: int, control_capacity: int,
                 metrics: Metrics, sid: str = "", flusher: Flusher | None = None,
                 coalesce_max: int = 256) -> None:
        self.id = next(_ids)
        self.user = user
        self.token_version = token_version
        self.sid = sid  # the login session (JWT sid) this socket authenticated with
        self.capacity = capacity
        self.control_capacity = control_capacity
        self.metrics = metrics
        # A list, not a deque: an empty deque allocates a 64-slot block up front (~600 B per idle
        # socket); frames leave in slices (``_pop``), so a list costs no more here.
        self._frames: list[tuple[int, str]] = []
        self._durable_or_ephemeral = 0
        self._control = 0
        # Events exist only while someone waits on them (a socket holds none when idle:
        # memory per socket is a benchmark target).
        self._nonempty: trio.Event | None = None
        self._writer_woken = False
        self._space: trio.Event | None = None
        self.cursor = 0
        self.sent = 0
        self.live = False
        self.dropped_max = 0
        self.catching_up = False
        self.close_code: int | None = None  # set once: the writer closes with it
        self.close_reason = ""
        self.last_progress = trio.current_time()
        self.flusher = flusher
        self.coalesce_max = coalesce_max
        self.direct: DirectWriter | None = None  # set by the transport once the socket is open
        # Set by the transport when its writer task is started only on first need
        # (direct writes make it rare): called once, by the first wake-up.
        self.start_writer: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.user} cursor={self.cursor} live={self.live}>"

    # -- queueing (sync, called by fan-out) ------------------------------

    @property
    def queued(self) -> int:
        return len(self._frames)

    def _push(self, kind: int, text: str) -> None:
        if not self._frames:
            self.last_progress = trio.current_time()  # the stall clock starts when work appears
        self._frames.append((kind, text))
        self.metrics.outbox_frames.inc()
        if self.direct is not None and self.flusher is not None:
            self.flusher.mark(self)
        else:
            self._wake_writer()

    def flush(self) -> None:
        """Write what is queued straight to the socket, or wake the writer task to do it."""
        if not self._frames:
            return
        direct = self.direct
        if direct is None or self.close_code is not None or not direct.ready():
            self._wake_writer()
            return
        while self._frames:
            if not direct.write(coalesce(self._pop(self.coalesce_max))):
                self._wake_writer()  # the rest of that frame waits for the writer task
                return
            self.metrics.frames_direct.inc()

    def offer_control(self, text: str) -> None:
        if self.close_code is not None:
            return
        if self._control >= self.control_capacity:
            self.close(4008, "too slow: not reading")
            return
        self._control += 1
        self._push(CONTROL, text)

    def offer_ephemeral(self, text: str) -> None:
        if self.close_code is not None or self._durable_or_ephemeral >= self.capacity:
            return
        self._durable_or_ephemeral += 1
        self._push(EPHEMERAL, text)
        self.metrics.delivered_ephemeral.inc()

    def offer_durable(self, seq: int, text: str) -> bool:
        """Queue a live durable event; False if the socket is (now) behind."""
        if self.close_code is not None or seq <= self.cursor:
            return True
        if self.live:
            if self._durable_or_ephemeral < self.capacity:
                self._durable_or_ephemeral += 1
                self._push(seq, text)
                self.cursor = seq
                self.metrics.delivered_live.inc()
                return True
            self.fall_behind()
        self.dropped_max = max(self.dropped_max, seq)
        return False

    def fall_behind(self) -> None:
        """Drop queued durable and ephemeral frames; resume from ``sent`` via the database."""
        kept = [f for f in self._frames if f[0] == CONTROL]
        self.metrics.outbox_frames.dec(len(self._frames) - len(kept))
        self._frames = kept
        self._durable_or_ephemeral = 0
        self.live = False
        self.cursor = self.sent
        self.metrics.fell_behind.inc()
        self._signal_space()

    # -- catch-up (awaits space: only the socket's own catch-up task calls this) --

    async def put_catchup(self, seq: int, text: str) -> None:
        while self._durable_or_ephemeral >= self.capacity and self.close_code is None:
            self._space = trio.Event()
            await self._space.wait()
            self._space = None
        if self.close_code is not None:
            return
        self._durable_or_ephemeral += 1
        self._push(seq, text)
        self.cursor = seq
        self.metrics.delivered_catchup.inc()

    # -- the writer's side -------------------------------------------------

    async def take(self, limit: int) -> list[str]:
        """Wait until woken, then take up to ``limit`` queued frames, oldest first.

        May return no frames: the writer is also woken to finish a direct
        write (its transport's ``flush``) and to close.
        """
        if not self._frames and self.close_code is None and not self._writer_woken:
            self._nonempty = trio.Event()
            await self._nonempty.wait()
            self._nonempty = None
        self._writer_woken = False
        return self._pop(limit)

    def _signal_space(self) -> None:
        if self._space is not None:
            self._space.set()

    def _signal_nonempty(self) -> None:
        if self._nonempty is not None:
            self._nonempty.set()

    def _wake_writer(self) -> None:
        self._writer_woken = True  # seen by the next take even if the writer is not waiting yet
        if self.start_writer is not None:
            start, self.start_writer = self.start_writer, None
            start()
        self._signal_nonempty()

    def _pop(self, limit: int) -> list[str]:
        out: list[str] = []
        frames = self._frames
        taken = frames[:limit]
        del frames[:limit]
        for kind, text in taken:
            if kind == CONTROL:
                self._control -= 1
            else:
                self._durable_or_ephemeral -= 1
                if kind > self.sent:
                    self.sent = kind
            out.append(text)
        if not out:
            return out
        self.metrics.outbox_frames.dec(len(out))
        self.last_progress = trio.current_time()
        self._signal_space()
        return out

    def close(self, code: int, reason: str = "") -> None:
        """Ask the writer to close the socket with ``code`` (first call wins)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        if code == 4008:
            self.metrics.too_slow.inc()
        self._wake_writer()
        self._signal_space()

    def discard(self) -> None:
        """The socket is gone: release queued frames."""
        self.direct = None
        self.metrics.outbox_frames.dec(len(self._frames))
        self._frames.clear()
        if self.close_code is None:
            self.close_code = 1000
        self._signal_space()
        self._signal_nonempty()
