"""Chatter benchmark driver: starts a server (Chatter or a reference peer) pinned to core 0,
drives it with the C load generator (bench/loadgen/lg) pinned to core 1, and writes every
raw measurement to bench/results/<stamp>/results.json for bench/report.

    python bench/bench.py --smoke            # tiny sizes, < 60 s, exits 1 unless 0 lost / 0 failures
    python bench/bench.py                    # full: every scenario, 3 interleaved runs
    python bench/bench.py --scenarios fanout,latency --targets node-ws,chatter --runs 1

Traffic goes to 127.0.0.1 only. Every wait is bounded; servers are stopped at the end of
each scenario (SIGTERM, then SIGKILL after 5 s) and peers also exit on their own after
BENCH_PEER_MAX_S seconds.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = ROOT / ".venv" / "bin" / "python"
LG = BENCH / "loadgen" / "lg"
SERVER_CORE, LOAD_CORE = "0", "1"
PASSWORD = "bench-password-123"

PEERS = ("node-ws", "socketio", "py-websockets")
TARGETS = (*PEERS, "chatter")
SCENARIOS = ("storm", "fanout", "latency", "rooms", "history", "login", "slow")


# --------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    storm: tuple[int, ...]
    members: int
    fanout_s: float
    fanout_window: int
    latency_pcts: tuple[int, ...]
    latency_s: float
    rooms: int
    room_size: int
    room_post_every_s: float
    ramp: tuple[float, ...]
    ramp_step_s: float
    history_rows: int
    history_requests: int
    login_users: int
    login_threads: int
    slow_s: float
    runs: int
    warmup_s: float
    drain_s: float
    storm_hold_s: float = 1.0


FULL = Sizes(storm=(1000, 5000), members=1000, fanout_s=4, fanout_window=16,
             latency_pcts=(25, 50, 80), latency_s=3, rooms=2000, room_size=5,
             room_post_every_s=10, ramp=(1, 2, 4, 8, 16, 24, 32, 48, 64), ramp_step_s=3,
             history_rows=1_000_000, history_requests=2000, login_users=500, login_threads=8,
             slow_s=10, runs=3, warmup_s=1, drain_s=20)
SMOKE = Sizes(storm=(60,), members=40, fanout_s=0.8, fanout_window=4,
              latency_pcts=(25, 50), latency_s=0.7, rooms=6, room_size=5,
              room_post_every_s=1, ramp=(1, 2), ramp_step_s=0.5,
              history_rows=2000, history_requests=50, login_users=20, login_threads=4,
              slow_s=1.0, runs=1, warmup_s=0.2, drain_s=5, storm_hold_s=0.2)


# --------------------------------------------------------------------------- helpers
def log(*a: Any) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))


def ensure_tools() -> None:
    """Build lg and install the peers' npm deps from the lockfile when missing or stale."""
    src = BENCH / "loadgen" / "lg.c"
    if not LG.exists() or LG.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["make", "-s", "-C", str(BENCH / "loadgen")], check=True, timeout=120)
    nm = BENCH / "peers" / "node_modules"
    lock = BENCH / "peers" / "package-lock.json"
    if not (nm / ".package-lock.json").exists() or lock.stat().st_mtime > (nm / ".package-lock.json").stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH / "peers",
                       check=True, timeout=300)


def proc_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return -1.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


# --------------------------------------------------------------------------- REST (Chatter)
class Rest:
    """Tiny keep-alive JSON client for Chatter's /api, one connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             ok: tuple[int, ...] = (200, 201, 204)) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body)
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.05)
                continue
            out = json.loads(raw) if raw else None
            if resp.status not in ok:
                raise RuntimeError(f"{method} {path} -> {resp.status} {raw[:300]!r}")
            return resp.status, out
        raise AssertionError("unreachable")


def chatter_population(rest: Rest, n_users: int, room_size: int, prefix: str, threads: int = 8
                       ) -> list[tuple[str, str]]:
    """Register n_users, log them in, and put them in rooms of room_size (0 = one room).

    Returns [(token, room_id)] in user order, the lines of lg's --tokens file."""
    names = [f"{prefix}{i:05d}" for i in range(n_users)]

    def reg(u: str) -> str:
        rest.call("POST", "/api/users", {"username": u, "name": u, "password": PASSWORD}, ok=(201, 409))
        _, out = rest.call("POST", "/api/auth/login", {"username": u, "password": PASSWORD})
        return str(out["token"])

    with cf.ThreadPoolExecutor(threads) as ex:
        tokens = list(ex.map(reg, names))
    size = room_size if room_size > 0 else n_users
    groups = [list(range(i, min(i + size, n_users))) for i in range(0, n_users, size)]

    def mkroom(g: list[int]) -> str:
        owner = tokens[g[0]]
        first = [names[i] for i in g[1:]]
        chunk = 200
        _, room = rest.call("POST", "/api/rooms", {"name": f"bench {names[g[0]]}", "members": first[:chunk]},
                            token=owner)
        for u in first[chunk:]:
            rest.call("POST", f"/api/rooms/{room['id']}/members", {"username": u}, token=owner)
        return str(room["id"])

    with cf.ThreadPoolExecutor(threads if len(groups) > 1 else 1) as ex:
        room_ids = list(ex.map(mkroom, groups))
    return [(tokens[i], room_ids[i // size]) for i in range(n_users)]


# --------------------------------------------------------------------------- servers
@dataclass
class Server:
    target: str
    port: int
    proc: subprocess.Popen[bytes]
    logf: Any
    workdir: Path
    db: Path | None = None
    rest: Rest | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.logf.close()


CHATTER_GC: list[str] = []  # --chatter-gc: experiment, gc.set_threshold(...) before Chatter starts


def chatter_cmd(port: int, db: Path) -> list[str]:
    if CHATTER_GC:
        # an experiment on an unmodified Chatter: tune the collector in the same process, then run its CLI
        code = (f"import gc, sys; gc.set_threshold({CHATTER_GC[0]}); import chatter.cli; "
                "sys.exit(chatter.cli.main(sys.argv[1:]))")
        head = [str(PY), "-c", code]
    else:
        head = [str(PY), "-m", "chatter"]
    return [*head, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db),
            "--set", "auth.bcrypt_rounds=4", "--set", "auth.login_per_ip_per_minute=100000",
            # bench-only: every bench user registers from 127.0.0.1
            "--set", "auth.register_per_ip_per_minute=1000000"]


def start_server(target: str, workdir: Path, db: Path | None = None) -> Server:
    port = free_port()
    env = dict(os.environ, BENCH_PEER_MAX_S="900")
    if target == "node-ws":
        cmd = ["node", str(BENCH / "peers" / "ws_peer.js"), str(port)]
    elif target == "socketio":
        cmd = ["node", str(BENCH / "peers" / "sio_peer.js"), str(port)]
    elif target == "py-websockets":
        cmd = [str(PY), str(BENCH / "peers" / "websockets_peer.py"), str(port)]
    elif target == "chatter":
        if db is None:
            db = workdir / "bench.db"
        cmd = chatter_cmd(port, db)
    else:
        raise ValueError(target)
    logf = open(workdir / f"server-{target}-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(["taskset", "-c", SERVER_CORE, *cmd], stdout=logf, stderr=subprocess.STDOUT,
                            cwd=ROOT, env=env, preexec_fn=raise_nofile, start_new_session=True)
    srv = Server(target, port, proc, logf, workdir, db)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            logf.flush()
            tail = (workdir / f"server-{target}-{port}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{target} exited with {proc.returncode} at start:\n{tail}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                c.close()
                break
            c.close()
        except OSError:
            pass
        time.sleep(0.1)
    else:
        srv.stop()
        raise RuntimeError(f"{target} did not answer /healthz on port {port} within 30 s")
    if target == "chatter":
        srv.rest = Rest(port)
    return srv


def machine_busy_s() -> float:
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


QUIET_CORES = 0.3  # other processes' CPU (in cores) above which a measurement is not trusted
QUIET_MAX_WAIT = [10.0]  # --quiet-wait; smoke mode sets 0: it checks correctness, not speed
ATTEMPTS = [2]  # --attempts: measurements of one scenario/target when other processes interfere


def wait_quiet(max_wait: float | None = None) -> tuple[float, float]:
    """Other engineers share this 2-core machine: wait (bounded) until the rest of the machine
    uses < QUIET_CORES for 0.5 s. Returns (seconds waited, last foreign load in cores)."""
    max_wait = QUIET_MAX_WAIT[0] if max_wait is None else max_wait
    if max_wait <= 0:
        return 0.0, -1.0
    t0 = time.monotonic()
    load = 0.0
    while True:
        b0, s0 = machine_busy_s(), time.monotonic()
        time.sleep(0.5)
        load = (machine_busy_s() - b0) / (time.monotonic() - s0)
        if load < QUIET_CORES or time.monotonic() - t0 > max_wait:
            return time.monotonic() - t0, load


def lg(srv: Server, conns: int, *, tokens: list[tuple[str, str]] | None = None, rates: list[float] | None = None,
       extra: list[str] | None = None, max_time: float = 600, tag: str = "", quiet: bool = True) -> dict[str, Any]:
    """Run the load generator against srv on the load core; returns its JSON report."""
    waited, load = wait_quiet() if quiet else (0.0, -1.0)
    args = ["taskset", "-c", LOAD_CORE, str(LG), "--port", str(srv.port), "--conns", str(conns),
            "--server-pid", str(srv.pid), "--max-time", str(max_time)]
    if srv.target == "socketio":
        args += ["--proto", "sio"]
    if srv.target != "chatter":
        args += ["--hello-rooms"]
    if tokens is not None:
        tf = srv.workdir / f"tokens-{tag or 'x'}-{conns}.txt"
        tf.write_text("".join(f"{t} {r}\n" for t, r in tokens[:conns]))
        args += ["--tokens", str(tf)]
    if rates is not None:
        args += ["--rate", ",".join(f"{r:g}" for r in rates)]
    args += extra or []
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=max_time + 30, preexec_fn=raise_nofile)
    if p.returncode != 0:
        raise RuntimeError(f"lg failed ({p.returncode}): {p.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(p.stdout)
    out["lg_stderr"] = p.stderr[-3000:]
    # Recorded relative to the checkout, so results say nothing about the machine's paths.
    out["lg_args"] = [str(LG.relative_to(ROOT)), *args[4:]]
    out["quiet_wait_s"], out["pre_foreign_cores"] = waited, load
    out["foreign_cpu_cores_max"] = max((st.get("foreign_cpu_cores", 0) for st in out["steps"]), default=load)
    log(f"  lg {srv.target} {tag}: {time.monotonic() - t0:.1f}s", p.stderr.strip().splitlines()[-1] if p.stderr else "")
    return out


# --------------------------------------------------------------------------- scenarios
class Bench:
    def __init__(self, sizes: Sizes, targets: list[str], outdir: Path, smoke: bool) -> None:
        self.z = sizes
        self.targets = targets
        self.out = outdir
        self.smoke = smoke
        self.records: list[dict[str, Any]] = []
        self.peer_max_msgs: float | None = None  # fastest peer's fan-out msgs/s (scenario 2)
        self.own_max_msgs: dict[str, float] = {}
        self.cache: dict[tuple[int, int, str], tuple[Path, list[tuple[str, str]]]] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="chatter-bench-"))
        self.machine_at_start = machine()
        self.shared: Server | None = None  # smoke mode's single Chatter

    # -- plumbing
    def record(self, scenario: str, target: str, run: int, **data: Any) -> None:
        rec = {"scenario": scenario, "target": target, "run": run, **data}
        self.records.append(rec)
        self.save()

    def save(self) -> None:
        meta = {"sizes": self.z.__dict__, "smoke": self.smoke, "targets": self.targets,
                "machine": machine(), "machine_at_start": self.machine_at_start, "peer_max_msgs": self.peer_max_msgs, "own_max_msgs": self.own_max_msgs,
                "argv": sys.argv}
        (self.out / "results.json").write_text(json.dumps({"meta": meta, "records": self.records}, indent=1))

    @contextlib.contextmanager
    def server(self, target: str, *, users: int = 0, room_size: int = 0, prefix: str = "u"):
        """A fresh server; for Chatter a fresh copy of a cached population database."""
        work = Path(tempfile.mkdtemp(dir=self.tmp, prefix=f"{target}-"))
        tokens: list[tuple[str, str]] | None = None
        if target == "chatter" and users and self.smoke:
            # smoke checks correctness, not memory: one Chatter for every scenario saves ~1.5 s per start
            if self.shared is None:
                self.shared = start_server("chatter", work)
            key = (users, room_size, prefix)
            if key not in self.cache:
                assert self.shared.rest is not None
                self.cache[key] = (Path(), chatter_population(self.shared.rest, users, room_size, prefix))
            self.shared.extra["tokens"] = self.cache[key][1]
            yield self.shared
            return
        if target == "chatter" and users:
            key = (users, room_size, prefix)
            if key not in self.cache:
                t0 = time.monotonic()
                tdir = Path(tempfile.mkdtemp(dir=self.tmp, prefix="pop-"))
                srv = start_server("chatter", tdir)
                try:
                    assert srv.rest is not None
                    toks = chatter_population(srv.rest, users, room_size, prefix)
                finally:
                    srv.stop()
                self.cache[key] = (tdir / "bench.db", toks)
                log(f"  chatter population {users} users, rooms of {room_size or users}: {time.monotonic() - t0:.1f}s")
            tmpl, tokens = self.cache[key]
            shutil.copy(tmpl, work / "bench.db")
            for suffix in ("-wal", "-shm"):
                if Path(str(tmpl) + suffix).exists():
                    shutil.copy(str(tmpl) + suffix, str(work / "bench.db") + suffix)
        srv = start_server(target, work)
        try:
            if tokens is not None:
                assert srv.rest is not None
                code = srv.rest.call("GET", "/api/me", token=tokens[0][0], ok=(200, 401))[0]
                if code == 401:  # tokens did not survive the restart: log everyone in again
                    names = [f"{prefix}{i:05d}" for i in range(users)]
                    rest = srv.rest

                    def relogin(u: str) -> str:
                        return str(rest.call("POST", "/api/auth/login", {"username": u, "password": PASSWORD})[1]["token"])
                    with cf.ThreadPoolExecutor(8) as ex:
                        new = list(ex.map(relogin, names))
                    tokens = [(t, r) for t, (_, r) in zip(new, tokens, strict=True)]
            srv.extra["tokens"] = tokens
            srv.extra["rss_idle_kb"] = proc_rss_kb(srv.pid)
            yield srv
        finally:
            srv.stop()

    def toks(self, srv: Server) -> list[tuple[str, str]] | None:
        return srv.extra.get("tokens")

    # -- (1) connection storm
    def s_storm(self, target: str, run: int) -> None:
        for n in self.z.storm:
            with self.server(target, users=n, prefix="s") as srv:
                r = lg(srv, n, tokens=self.toks(srv), extra=["--hold", str(self.z.storm_hold_s), "--connect-timeout", "60"], tag=f"storm{n}")
                c = r["connect"]
                rss = (r["server"]["rss_ready_kb"] - r["server"]["rss_start_kb"]) * 1024 / max(1, r["ready"])
                self.record("storm", target, run, n=n, t_all_ready_s=c["t_all_ready_s"], ready=r["ready"],
                            failures=n - r["ready"], ready_ms_p50=c["ready_ms_p50"], ready_ms_p99=c["ready_ms_p99"],
                            rss_per_conn_bytes=rss, server_cpu_connect_us=r["server"]["cpu_connect_us"], lg=r)

    # -- (2) one room x N fan-out, closed loop
    def s_fanout(self, target: str, run: int) -> None:
        n = self.z.members
        with self.server(target, users=n, prefix="m") as srv:
            r = lg(srv, n, tokens=self.toks(srv), rates=[0], tag="fanout",
                   extra=["--window", str(self.z.fanout_window), "--duration", str(self.z.fanout_s),
                          "--warmup", str(self.z.warmup_s), "--drain", str(self.z.drain_s)])
            st = r["steps"][0]
            self.record("fanout", target, run, members=n, deliveries_per_s=st["deliveries_per_s"],
                        msgs_per_s=st["msgs_per_s"], lost=r["lost"], failures=n - r["ready"] + r["deaths_after_ready"],
                        errors=r["errors"], cpu_us_per_delivery=st["server_cpu_us_per_delivery"],
                        server_cpu_util=st["server_cpu_util"], lg_cpu_util=st["lg_cpu_util"],
                        p50_us=st["lat_us"]["p50"], p99_us=st["lat_us"]["p99"], lg=r)

    def fanout_maxima(self) -> None:
        by: dict[str, list[float]] = {}
        for rec in self.records:
            if rec["scenario"] == "fanout" and rec["lost"] == 0 and "msgs_per_s" in rec:
                by.setdefault(rec["target"], []).append(rec["msgs_per_s"])
        self.own_max_msgs = {t: statistics.median(v) for t, v in by.items()}
        peers = [v for t, v in self.own_max_msgs.items() if t in PEERS]
        self.peer_max_msgs = max(peers) if peers else (100.0 if self.smoke else 200.0)
        self.save()

    # -- (3) latency at fractions of the fastest peer's max rate, open loop
    def s_latency(self, target: str, run: int) -> None:
        n = self.z.members
        assert self.peer_max_msgs
        with self.server(target, users=n, prefix="m") as srv:
            for p in self.z.latency_pcts:
                rate = self.peer_max_msgs * p / 100
                r = lg(srv, n, tokens=self.toks(srv), rates=[rate], tag=f"lat{p}",
                       extra=["--duration", str(self.z.latency_s), "--warmup", str(self.z.warmup_s),
                              "--drain", str(self.z.drain_s)])
                st = r["steps"][0]
                self.record("latency", target, run, pct=p, rate=rate, offered_deliveries_per_s=rate * n,
                            deliveries_per_s=st["deliveries_per_s"], lost=r["lost"],
                            failures=n - r["ready"] + r["deaths_after_ready"], errors=r["errors"],
                            p50_us=st["lat_us"]["p50"], p99_us=st["lat_us"]["p99"], max_us=st["lat_us"]["max"],
                            cpu_us_per_delivery=st["server_cpu_us_per_delivery"], server_cpu_util=st["server_cpu_util"],
                            lg_cpu_util=st["lg_cpu_util"], lg=r)
                time.sleep(0.5)

    # -- (4) many small rooms, ramp until p99 > 250 ms
    def s_rooms(self, target: str, run: int) -> None:
        n = self.z.rooms * self.z.room_size
        base = n / self.z.room_post_every_s
        with self.server(target, users=n, room_size=self.z.room_size, prefix="g") as srv:
            rates = [base * m for m in self.z.ramp]
            extra = ["--duration", str(self.z.ramp_step_s), "--warmup", str(self.z.warmup_s),
                     "--drain", str(self.z.drain_s), "--stop-p99-ms", "250", "--connect-timeout", "120",
                     "--room-size", str(self.z.room_size)]  # Chatter's population uses the same grouping
            r = lg(srv, n, tokens=self.toks(srv), rates=rates, extra=extra, tag="rooms", max_time=900)
            steps = r["steps"]
            ok = [s for s in steps if s["lat_us"]["p99"] <= 250_000 and s["lost"] == 0 and s["lat_us"]["n"] > 0]
            best = max(ok, key=lambda s: s["rate"]) if ok else None
            self.record("rooms", target, run, rooms=self.z.rooms, room_size=self.z.room_size, base_rate=base,
                        t_all_ready_s=r["connect"]["t_all_ready_s"], failures=n - r["ready"] + r["deaths_after_ready"],
                        lost=r["lost"], errors=r["errors"],
                        base_p50_us=steps[0]["lat_us"]["p50"] if steps else -1,
                        base_p99_us=steps[0]["lat_us"]["p99"] if steps else -1,
                        max_ok_msgs_per_s=best["msgs_per_s"] if best else 0.0,
                        max_ok_deliveries_per_s=best["deliveries_per_s"] if best else 0.0,
                        max_ok_p99_us=best["lat_us"]["p99"] if best else -1,
                        rss_per_conn_bytes=(r["server"]["rss_ready_kb"] - r["server"]["rss_start_kb"]) * 1024 / max(1, r["ready"]),
                        steps=[{k: s[k] for k in ("rate", "msgs_per_s", "deliveries_per_s", "lost", "lat_us",
                                                  "server_cpu_util", "server_cpu_us_per_delivery", "lg_cpu_util")}
                               for s in steps], lg=r)

    # -- (5) history page at 1M rows vs the raw SQLite query
    def s_history(self, target: str, run: int) -> None:
        if target != "chatter":
            return
        work = Path(tempfile.mkdtemp(dir=self.tmp, prefix="hist-"))
        db = work / "bench.db"
        key = (-1, self.z.history_rows, "h")
        if key not in self.cache:
            t0 = time.monotonic()
            srv = start_server("chatter", work, db)
            try:
                assert srv.rest is not None
                toks = chatter_population(srv.rest, 2, 0, "h")
            finally:
                srv.stop()
            bulk_messages(db, toks[0][1], "h00000", self.z.history_rows)
            tmpl = self.tmp / "hist-template.db"
            shutil.copy(db, tmpl)
            self.cache[key] = (tmpl, toks)
            log(f"  history db with {self.z.history_rows} rows: {time.monotonic() - t0:.1f}s")
        tmpl, toks = self.cache[key]
        shutil.copy(tmpl, db)
        token, room = toks[0]
        srv = start_server("chatter", work, db)
        try:
            assert srv.rest is not None
            code, me = srv.rest.call("GET", "/api/me", token=token, ok=(200, 401))
            if code == 401:
                token = srv.rest.call("POST", "/api/auth/login", {"username": "h00000", "password": PASSWORD})[1]["token"]
            res = history_bench(srv, token, room, self.z.history_rows, self.z.history_requests)
        finally:
            srv.stop()
        raw = raw_history(db, room, self.z.history_rows, self.z.history_requests)
        self.record("history", target, run, rows=self.z.history_rows, **res, **raw,
                    failures=res["http_failures"], lost=0)

    # -- (6) login storm during fan-out
    def s_login(self, target: str, run: int) -> None:
        n = self.z.members
        k = self.z.login_users
        base_rate = 0.25 * (self.peer_max_msgs or 100)
        rate = min(base_rate, 0.5 * self.own_max_msgs.get(target, base_rate * 2))
        d = self.z.latency_s
        with self.server(target, users=n, prefix="m") as srv:
            names: list[str] = []
            if target == "chatter":
                assert srv.rest is not None
                names = [f"l{i:05d}" for i in range(k)]
                rest = srv.rest
                with cf.ThreadPoolExecutor(8) as ex:
                    list(ex.map(lambda u: rest.call("POST", "/api/users",
                                                    {"username": u, "name": u, "password": PASSWORD}, ok=(201, 409)),
                                names))
            result: dict[str, Any] = {}

            mark = srv.workdir / "login-steps.txt"

            def storm() -> None:
                # step 0 is the baseline; the storm starts when lg starts step 1 (after its connect phase)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    if mark.exists() and len(mark.read_text().splitlines()) >= 2:
                        break
                    time.sleep(0.02)
                t0 = time.monotonic()
                lat: list[float] = []
                fails = 0
                toks: list[tuple[str, str]] = []
                if target == "chatter":
                    assert srv.rest is not None
                    rest2 = Rest(srv.port)

                    def login(u: str) -> tuple[float, str | None]:
                        s = time.monotonic()
                        try:
                            _, out = rest2.call("POST", "/api/auth/login", {"username": u, "password": PASSWORD})
                            return time.monotonic() - s, str(out["token"])
                        except (RuntimeError, OSError):
                            return time.monotonic() - s, None
                    with cf.ThreadPoolExecutor(self.z.login_threads) as ex:
                        for dt, t in ex.map(login, names):
                            lat.append(dt)
                            if t is None:
                                fails += 1
                            else:
                                toks.append((t, "none"))
                t_login = time.monotonic() - t0
                # and every one of them opens a socket (peers: the connection storm alone)
                sk = Server(srv.target, srv.port, srv.proc, srv.logf, srv.workdir)
                rr = lg(sk, k, tokens=toks if target == "chatter" else None, tag="loginstorm", quiet=False,
                        extra=["--room", "storm", "--connect-timeout", "30"] + (["--hold", "0.5"]))
                if target == "chatter":
                    result.update(logins=len(lat), login_failures=fails, login_p50_ms=pct(lat, 50) * 1000,
                                  login_p99_ms=pct(lat, 99) * 1000, login_max_ms=max(lat, default=-1) * 1000,
                                  logins_per_s=len(lat) / t_login if lat else 0.0, login_phase_s=t_login)
                result.update(storm_sockets_ready=rr["ready"], storm_t_all_ready_s=rr["connect"]["t_all_ready_s"],
                              storm_failures=k - rr["ready"])

            th = threading.Thread(target=storm, daemon=True)
            th.start()
            r = lg(srv, n, tokens=self.toks(srv), rates=[rate, rate, rate], tag="login-fanout",
                   extra=["--duration", str(d), "--warmup", str(self.z.warmup_s), "--drain", str(self.z.drain_s),
                          "--mark", str(mark)])
            th.join(120)
            s0, s1 = r["steps"][0], r["steps"][1]
            self.record("login", target, run, rate=rate, lost=r["lost"], errors=r["errors"],
                        failures=n - r["ready"] + r["deaths_after_ready"] + result.get("login_failures", 0)
                        + result.get("storm_failures", 0),
                        base_p99_us=s0["lat_us"]["p99"], storm_p99_us=s1["lat_us"]["p99"],
                        base_p50_us=s0["lat_us"]["p50"], storm_p50_us=s1["lat_us"]["p50"],
                        storm_max_us=max(s["lat_us"]["max"] for s in r["steps"]), **result, lg=r)

    # -- (7) one slow consumer among N
    def s_slow(self, target: str, run: int) -> None:
        n = self.z.members
        base_rate = 0.25 * (self.peer_max_msgs or 100)
        rate = min(base_rate, 0.5 * self.own_max_msgs.get(target, base_rate * 2))
        with self.server(target, users=n, prefix="m") as srv:
            r = lg(srv, n, tokens=self.toks(srv), rates=[rate], tag="slow",
                   extra=["--slow", "1", "--duration", str(self.z.slow_s), "--warmup", str(self.z.warmup_s),
                          "--drain", str(self.z.drain_s), "--hold", "0.5"])
            st = r["steps"][0]
            sv = r["server"]
            self.record("slow", target, run, rate=rate, lost=r["lost"], errors=r["errors"],
                        failures=n - r["ready"] + max(0, r["deaths_after_ready"]),
                        p50_us=st["lat_us"]["p50"], p99_us=st["lat_us"]["p99"], max_us=st["lat_us"]["max"],
                        rss_ready_kb=sv["rss_ready_kb"], rss_max_kb=sv["rss_max_kb"], rss_end_kb=sv["rss_end_kb"],
                        rss_growth_kb=sv["rss_max_kb"] - sv["rss_ready_kb"], lg=r)

    def run(self, scenarios: list[str]) -> None:
        order = [s for s in SCENARIOS if s in scenarios]
        # fan-out first in every run so that latency/slow/login rates derive from the peers' maxima
        for run in range(1, self.z.runs + 1):
            for sc in order:
                if sc in ("latency", "login", "slow") and self.peer_max_msgs is None:
                    self.fanout_maxima()
                for t in self.targets:
                    for attempt in range(1, ATTEMPTS[0] + 1):
                        log(f"run {run} {sc} {t}" + (f" (attempt {attempt})" if attempt > 1 else ""))
                        mark = len(self.records)
                        try:
                            getattr(self, f"s_{sc}")(t, run)
                        except Exception as e:  # noqa: BLE001 -- recorded as a failure, the run goes on
                            log(f"  FAILED {sc} {t}: {e}")
                            self.record(sc, t, run, error=str(e)[-2000:], failures=1, lost=0)
                        new = self.records[mark:]
                        foreign = max((float(r.get("lg", {}).get("foreign_cpu_cores_max", 0) or 0) for r in new), default=0.0)
                        for r in new:
                            r["attempt"] = attempt
                            r["foreign_cpu_cores"] = foreign
                        # the login storm's own client is "foreign" load by design
                        if foreign <= QUIET_CORES or self.smoke or attempt == ATTEMPTS[0] or sc == "login":
                            break
                        log(f"  other processes used {foreign:.2f} cores during {sc}/{t}: measuring again")
                        del self.records[mark:]
                if sc == "fanout":
                    self.fanout_maxima()
        if self.shared is not None:
            self.shared.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- history helpers
def bulk_messages(db: Path, room: str, sender: str, rows: int) -> None:
    """Append `rows` messages to `room` straight into Chatter's SQLite file (server stopped),
    the way post_message would: one event row and one message row per message."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA journal_mode=WAL")
        cols = {r[1] for r in con.execute("PRAGMA table_info(messages)")}
        assert {"id", "seq", "room", "sender", "body", "client_msg_id", "created_at"} <= cols, cols
        head = con.execute("SELECT COALESCE(MAX(seq),0) FROM events").fetchone()[0]
        mid = con.execute("SELECT COALESCE(MAX(id),0) FROM messages").fetchone()[0]
        at = "2026-11-25T10:00:00.000Z"
        batch = 50_000
        with con:
            for start in range(0, rows, batch):
                ev, ms = [], []
                for i in range(start, min(rows, start + batch)):
                    seq, id_ = head + 1 + i, mid + 1 + i
                    body = f"history message {i} " + "x" * 40
                    data = json.dumps({"id": id_, "room": room, "sender": sender, "body": body,
                                       "client_msg_id": f"h{i}", "created_at": at}, separators=(",", ":"))
                    ev.append((seq, room, "message", data))
                    ms.append((id_, seq, room, sender, body, f"h{i}", at))
                con.executemany("INSERT INTO events (seq, room, type, data) VALUES (?,?,?,?)", ev)
                con.executemany("INSERT INTO messages (id, seq, room, sender, body, client_msg_id, created_at) "
                                "VALUES (?,?,?,?,?,?,?)", ms)
            last = mid + rows
            con.execute("UPDATE rooms SET activity_seq = ?, last_message = ? WHERE id = ?", (head + rows, last, room))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _befores(rows: int, n: int) -> list[int]:
    # spread over the whole history, newest to oldest, deterministic
    return [rows - (i * 7919) % rows for i in range(n)]


def history_bench(srv: Server, token: str, room: str, rows: int, n: int) -> dict[str, Any]:
    assert srv.rest is not None
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    lat: list[float] = []
    fails = 0
    cpu0 = proc_cpu(srv.pid)
    t0 = time.monotonic()
    first_ids_ok = True
    for b in _befores(rows, n):
        s = time.monotonic()
        c.request("GET", f"/api/rooms/{room}/messages?before={b}&limit=50", headers={"Authorization": f"Bearer {token}"})
        resp = c.getresponse()
        raw = resp.read()
        lat.append(time.monotonic() - s)
        if resp.status != 200:
            fails += 1
            continue
        msgs = json.loads(raw)["messages"]
        if not msgs or msgs[-1]["id"] != b - 1:
            first_ids_ok = False
    wall = time.monotonic() - t0
    cpu = proc_cpu(srv.pid) - cpu0
    c.close()
    return {"http_p50_us": pct(lat, 50) * 1e6, "http_p99_us": pct(lat, 99) * 1e6, "http_max_us": max(lat) * 1e6,
            "http_req_per_s": n / wall, "http_cpu_us_per_req": cpu / n, "http_failures": fails,
            "pages_correct": first_ids_ok}


def raw_history(db: Path, room: str, rows: int, n: int) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lat: list[float] = []
    q = ("SELECT id, seq, room, sender, body, client_msg_id, created_at FROM messages "
         "WHERE room = ? AND id < ? ORDER BY id DESC LIMIT 51")
    plan = " | ".join(str(r[-1]) for r in con.execute("EXPLAIN QUERY PLAN " + q, (room, 1)))
    for b in _befores(rows, n):
        s = time.perf_counter()
        con.execute(q, (room, b)).fetchall()
        lat.append(time.perf_counter() - s)
    con.close()
    return {"raw_p50_us": pct(lat, 50) * 1e6, "raw_p99_us": pct(lat, 99) * 1e6, "raw_plan": plan}


def proc_cpu(pid: int) -> float:
    """utime+stime of pid in microseconds."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) * 1e6 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        mem = int(Path("/proc/meminfo").read_text().split()[1])

    def ver(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem / 2**20, 1), "kernel": os.uname().release,
            "python": sys.version.split()[0], "node": ver(["node", "--version"]),
            "gcc": ver(["gcc", "--version"]),
            "git": ver(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"]),
            "chatter_uncommitted": ver(["bash", "-c", f"git -C {ROOT} status --porcelain -- chatter | wc -l"]),
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}


# --------------------------------------------------------------------------- smoke check
def check(records: list[dict[str, Any]]) -> list[str]:
    bad = []
    for r in records:
        if r.get("error"):
            bad.append(f"{r['scenario']}/{r['target']}: error: {r['error'][:300]}")
            continue
        if r.get("failures", 0) or r.get("lost", 0) or r.get("errors", 0):
            bad.append(f"{r['scenario']}/{r['target']}: failures={r.get('failures')} lost={r.get('lost')} "
                       f"errors={r.get('errors')}")
        if r["scenario"] == "history" and not r.get("pages_correct", True):
            bad.append("history/chatter: a page did not end at before-1")
    return bad


def chatter_available() -> bool:
    p = subprocess.run([str(PY), "-m", "chatter", "serve", "--help"], capture_output=True, cwd=ROOT, timeout=60)
    return p.returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes; exit 1 unless 0 lost and 0 failures")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--runs", type=int, help="override the number of interleaved runs")
    ap.add_argument("--latency-pcts", help="scenario 3 load points, %% of the fastest peer's max (default 25,50,80)")
    ap.add_argument("--out", type=Path, help="results directory (default bench/results/<stamp>)")
    ap.add_argument("--quiet-wait", type=float, default=10.0,
                    help="seconds to wait for other processes to go below 0.3 cores before a measurement")
    ap.add_argument("--attempts", type=int, default=2, help="measurements of a scenario when others interfere")
    ap.add_argument("--chatter-gc", metavar="G0,G1,G2",
                    help="experiment: run Chatter with gc.set_threshold(G0,G1,G2) (its code unchanged)")
    ap.add_argument("--no-chatter-ok", action="store_true", help="drop chatter from targets if it cannot serve yet")
    a = ap.parse_args(argv)
    z = SMOKE if a.smoke else FULL
    QUIET_MAX_WAIT[0] = 0.0 if a.smoke else a.quiet_wait
    ATTEMPTS[0] = max(1, a.attempts)
    if a.chatter_gc:
        CHATTER_GC.append(",".join(str(int(x)) for x in a.chatter_gc.split(",")))
    if a.runs:
        z = Sizes(**{**z.__dict__, "runs": a.runs})
    if a.latency_pcts:
        z = Sizes(**{**z.__dict__, "latency_pcts": tuple(int(x) for x in a.latency_pcts.split(","))})
    targets = [t for t in a.targets.split(",") if t]
    scenarios = [s for s in a.scenarios.split(",") if s]
    for t in targets:
        if t not in TARGETS:
            ap.error(f"unknown target {t}")
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s}")
    raise_nofile()
    # the driver (REST setup, login storms) runs on the load core, never on the server's
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the servers
    ensure_tools()
    if "chatter" in targets and not chatter_available():
        if a.no_chatter_ok:
            log("chatter cannot serve yet (python -m chatter serve --help failed); measuring the peers only")
            targets.remove("chatter")
        else:
            log("chatter cannot serve: `python -m chatter serve --help` failed")
            return 1
    out = a.out or BENCH / "results" / (("smoke-" if a.smoke else "full-") + time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    b = Bench(z, targets, out, a.smoke)
    t0 = time.monotonic()
    b.run(scenarios)
    log(f"done in {time.monotonic() - t0:.1f}s; results in {out / 'results.json'}")
    bad = check(b.records)
    for line in bad:
        log("FAIL", line)
    if not bad:
        log("OK: 0 lost, 0 failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
