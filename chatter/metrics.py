"""A small Prometheus registry: counters, gauges and histograms.

Updated synchronously from the trio thread (no locks needed); rendered in
the text exposition format by ``GET /metrics``.

Cardinality is bounded: no label value comes from a client as such.  A
request's method and route, and a socket's close code, go through
``method_label``, ``route_label`` and ``close_code_label``, which map
anything outside a fixed set to ``other``; every other label is a constant
in the code.  (A probe that sent 20,000 invented methods grew ``/metrics``
from 34 KB to 1.7 MB before this; tests/security/test_sec_metrics.py.)
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLOSE_CODES = frozenset({1000, 1001, 1006, 1008, 1009, 1011, 4001, 4008})
OTHER = "other"


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else OTHER


def route_label(rule: str | None, known: Collection[str]) -> str:
    """The route's rule if it is one of ``known`` (the app's own), ``unmatched`` for none, else ``other``."""
    if rule is None:
        return "unmatched"
    return rule if rule in known else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


def close_code_label(code: int) -> str:
    return str(code) if code in CLOSE_CODES else OTHER


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class _Child:
    """One labelled series of a Counter, bound once: ``inc`` is a plain add (hot paths)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class Counter:
    def __init__(self, name: str, help_: str) -> None:
        self.name, self.help = name, help_
        self.values: dict[tuple[tuple[str, str], ...], float] = {}
        self._children: dict[tuple[tuple[str, str], ...], _Child] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0) + amount

    def child(self, **labels: str) -> _Child:
        key = tuple(sorted(labels.items()))
        if key not in self._children:
            self._children[key] = _Child()
        return self._children[key]

    def _merged(self) -> dict[tuple[tuple[str, str], ...], float]:
        merged = dict(self.values)
        for key, c in self._children.items():
            merged[key] = merged.get(key, 0) + c.value
        return merged

    def get(self, **labels: str) -> float:
        return self._merged().get(tuple(sorted(labels.items())), 0)

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        merged = self._merged()
        for key, v in sorted(merged.items()):
            out.append(f"{self.name}{_labels(dict(key))} {v:g}")
        if not merged:
            out.append(f"{self.name} 0")
        return out


class Gauge:
    def __init__(self, name: str, help_: str, fn: Callable[[], float] | None = None) -> None:
        self.name, self.help, self.fn = name, help_, fn
        self.value = 0.0

    def set(self, v: float) -> None:
        self.value = v

    def inc(self, v: float = 1) -> None:
        self.value += v

    def dec(self, v: float = 1) -> None:
        self.value -= v

    def render(self) -> list[str]:
        v = self.fn() if self.fn else self.value
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge", f"{self.name} {v:g}"]


class StateGauge:
    """A gauge over a fixed set of states: the current one is 1, every other 0 (all are rendered)."""

    def __init__(self, name: str, help_: str, label: str, states: tuple[str, ...]) -> None:
        self.name, self.help, self.label, self.states = name, help_, label, states
        self.state: str | None = None

    def set(self, state: str) -> None:
        if state not in self.states:
            raise ValueError(f"{self.name}: {state!r} is not one of {self.states}")
        self.state = state

    def get(self, state: str) -> float:
        return 1.0 if state == self.state else 0.0

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        out += [f"{self.name}{_labels({self.label: s})} {self.get(s):g}" for s in self.states]
        return out


class Histogram:
    def __init__(self, name: str, help_: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help_, buckets
        self.series: dict[tuple[tuple[str, str], ...], list[float]] = {}

    def observe(self, v: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = [0.0] * (len(self.buckets) + 2)  # buckets.., +Inf count, sum
        s[bisect.bisect_left(self.buckets, v)] += 1
        s[-1] += v

    def count(self, **labels: str) -> float:
        s = self.series.get(tuple(sorted(labels.items())))
        return sum(s[:-1]) if s else 0

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, s in sorted(self.series.items()):
            labels = dict(key)
            acc = 0.0
            for bound, n in zip(self.buckets, s, strict=False):
                acc += n
                out.append(f"{self.name}_bucket{_labels({**labels, 'le': f'{bound:g}'})} {acc:g}")
            acc += s[len(self.buckets)]
            out.append(f"{self.name}_bucket{_labels({**labels, 'le': '+Inf'})} {acc:g}")
            out.append(f"{self.name}_sum{_labels(labels)} {s[-1]:g}")
            out.append(f"{self.name}_count{_labels(labels)} {acc:g}")
        return out


LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Every metric Chatter exports, in one place."""

    def __init__(self) -> None:
        self.http_requests = Counter("chatter_http_requests_total", "REST requests by method, route and status.")
        self.http_latency = Histogram("chatter_http_request_seconds", "REST request latency by route.",
                                      LATENCY_BUCKETS)
        self.sockets_open = Gauge("chatter_sockets_open", "Open WebSocket connections.")
        self.sockets_total = Counter("chatter_sockets_total", "WebSocket connections accepted.")
        self.sockets_closed = Counter("chatter_sockets_closed_total", "WebSocket closes by code.")
        self.sockets_refused = Counter("chatter_sockets_refused_total",
                                       "Socket handshakes refused (429) past realtime.sockets_per_user.")
        self.events_delivered = Counter("chatter_events_delivered_total",
                                        "Events queued to sockets (durable live, catch-up, ephemeral).")
        self.frames_sent = Counter("chatter_frames_sent_total",
                                   "WebSocket frames written (one may hold many events), by path: "
                                   "direct from the fan-out, or by the socket's writer task.")
        self.transport_path = StateGauge("chatter_transport_path",
                                         "1 for the path socket frames take in this process: direct from the "
                                         "fan-out, or the writer-task fallback (realtime.direct_writes, or the "
                                         "start-up probe of hypercorn's shape).", "path", ("direct", "writer_task"))
        self.send_ack = Histogram("chatter_send_ack_seconds", "Time from a send frame to its ack being queued.",
                                  LATENCY_BUCKETS)
        self.fell_behind = Counter("chatter_sockets_fell_behind_total",
                                   "Times a socket's outbox overflowed and it was switched to catch-up "
                                   "from the database.")
        self.too_slow = Counter("chatter_sockets_closed_too_slow_total", "Sockets closed with 4008 (too slow).")
        self.dispatch_queue = Gauge("chatter_dispatch_queue_batches", "Committed batches waiting for fan-out.")
        self.outbox_frames = Gauge("chatter_outbox_frames", "Frames queued across all socket outboxes.")
        self.rooms_active = Gauge("chatter_rooms_active", "Room actors running.")
        self.room_restarts = Counter("chatter_room_restarts_total", "Room actors restarted after a crash.")
        self.sessions_active = Gauge("chatter_sessions_active", "Users with at least one open socket.")
        self.store_batches = Gauge("chatter_store_commits", "Transactions committed by the writer.")
        self.store_writes = Gauge("chatter_store_writes", "Writes committed (group commit: writes >= commits).")
        self.online_users = Gauge("chatter_users_online", "Users currently online.")
        self.login_refused = Counter("chatter_login_refused_total",
                                     "Password checks refused with 429, by limit (address, account_address).")
        self.login_delayed = Counter("chatter_login_delayed_total",
                                     "Password checks delayed because their account is being guessed from "
                                     "many addresses.")
        # Pre-bound series for the per-delivery hot path.
        self.delivered_live = self.events_delivered.child(kind="live")
        self.delivered_catchup = self.events_delivered.child(kind="catchup")
        self.delivered_ephemeral = self.events_delivered.child(kind="ephemeral")
        self.frames_direct = self.frames_sent.child(path="direct")
        self.frames_writer = self.frames_sent.child(path="writer")

    def render(self) -> str:
        lines: list[str] = []
        for v in vars(self).values():
            if isinstance(v, Counter | Gauge | StateGauge | Histogram):
                lines += v.render()
        return "\n".join(lines) + "\n"
