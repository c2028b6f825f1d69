"""Look inside Chatter under load: where its memory per socket and its GC time go.

    .venv/bin/python bench/probe.py mem --conns 2000      # RSS and tracked objects per socket, by type
    .venv/bin/python bench/probe.py gc --conns 5000       # collector time during a connection storm
    .venv/bin/python bench/probe.py gc --rooms --rates 1000,2000,3000   # ...and under small-room load

Starts Chatter as bench.py does (core 0), but through a wrapper that installs the probe in
the server process: ``gc.callbacks`` timing every collection (``gc``), or a SIGUSR1 handler
that counts tracked objects by type (``mem``). Drives it with lg on core 1. Traffic goes to
127.0.0.1 only; every wait is bounded. Numbers quoted in bench/FINDINGS.md came from here.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

# Runs inside the server process, before Chatter's CLI.
_WRAPPER = r'''
import collections, gc, signal, sys, threading, time
mode = sys.argv.pop(1)
if mode == "gc":
    started, secs, counts = [0.0], [0.0, 0.0, 0.0], [0, 0, 0]
    def timed(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            secs[info["generation"]] += time.perf_counter() - started[0]
            counts[info["generation"]] += 1
    gc.callbacks.append(timed)
    def report():
        while True:
            time.sleep(0.5)
            print(f"PROBE gc counts={counts} seconds={[round(s, 3) for s in secs]}", file=sys.stderr, flush=True)
    threading.Thread(target=report, daemon=True).start()
else:
    last = {}
    def census():
        c = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
        lines = [f"PROBE mem total={sum(c.values())}"]
        if last:
            lines += [f"PROBE mem {v} {k}" for k, v in (c - last["c"]).most_common(40)]
        last["c"] = c
        print("\n".join(lines), file=sys.stderr, flush=True)
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=census).start())
import chatter.cli
sys.exit(chatter.cli.main(sys.argv[1:]))
'''


def probe_lines(work: Path) -> list[str]:
    """The probe's lines from the newest server log (a restart starts a new one)."""
    logs = sorted(work.glob("server-*.log"), key=lambda p: p.stat().st_mtime)
    return [ln for ln in logs[-1].read_text(errors="replace").splitlines() if ln.startswith("PROBE")] if logs else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("gc", "mem"))
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--rooms", action="store_true", help="gc: rooms of 5 under --rates, not a storm")
    ap.add_argument("--rates", default="1000,2000", help="msgs/s steps with --rooms")
    ap.add_argument("--hold", type=float, default=12, help="mem: seconds the sockets stay open")
    ap.add_argument("--restart", action="store_true",
                    help="restart the server on its database after the population, as bench.py does")
    a = ap.parse_args()
    bench.raise_nofile()
    bench.ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="chatter-probe-"))
    wrapper = work / "probe_wrapper.py"
    wrapper.write_text(_WRAPPER)
    plain = bench.chatter_cmd
    bench.chatter_cmd = lambda port, db: [str(bench.PY), str(wrapper), a.mode, *plain(port, db)[3:]]
    srv = bench.start_server("chatter", work)
    try:
        assert srv.rest is not None
        toks = bench.chatter_population(srv.rest, a.conns, 5 if a.rooms else 0, "p")
        if a.restart:
            srv.stop()
            srv = bench.start_server("chatter", work, db=srv.db)
        if a.mode == "mem":
            return _mem(srv, toks, a, work)
        time.sleep(1)
        before = probe_lines(work)[-1]
        if a.rooms:
            r = bench.lg(srv, a.conns, tokens=toks, rates=[float(x) for x in a.rates.split(",")], tag="probe",
                         extra=["--duration", "3", "--warmup", "1", "--drain", "20", "--connect-timeout", "120",
                                "--room-size", "5"], max_time=900)
            for st in r["steps"]:
                print(f"rate {st['rate']}: p50 {st['lat_us']['p50']} us, p99 {st['lat_us']['p99']} us, "
                      f"server util {st['server_cpu_util']}, lost {st['lost']}")
        else:
            r = bench.lg(srv, a.conns, tokens=toks, tag="probe", extra=["--hold", "1", "--connect-timeout", "60"])
            print(f"ready {r['ready']}/{a.conns} in {r['connect']['t_all_ready_s']} s")
        time.sleep(1)
        print("before load:", before.removeprefix("PROBE gc "))
        print("after load: ", probe_lines(work)[-1].removeprefix("PROBE gc "))
        return 0
    finally:
        srv.stop()


def _mem(srv: bench.Server, toks: list[tuple[str, str]] | None, a: argparse.Namespace, work: Path) -> int:
    os.kill(srv.pid, signal.SIGUSR1)  # the baseline census
    time.sleep(3)
    rss0 = bench.proc_rss_kb(srv.pid)
    out: dict[str, float] = {}

    def measure() -> None:
        time.sleep(min(a.hold - 2, 10))  # all connected by then at these sizes (checked: lg reports ready)
        out["rss"] = (bench.proc_rss_kb(srv.pid) - rss0) * 1024 / a.conns
        os.kill(srv.pid, signal.SIGUSR1)
    t = threading.Thread(target=measure)
    t.start()
    r = bench.lg(srv, a.conns, tokens=toks, tag="probe", extra=["--hold", str(a.hold), "--connect-timeout", "60"])
    t.join()
    time.sleep(2)
    print(f"ready {r['ready']}/{a.conns} in {r['connect']['t_all_ready_s']} s; "
          f"RSS per socket {out.get('rss', 0):.0f} bytes")
    census = [ln.removeprefix("PROBE mem ") for ln in probe_lines(work)]
    totals = [int(m.group(1)) for ln in census if (m := re.match(r"total=(\d+)", ln))]
    if len(totals) >= 2:
        print(f"tracked objects per socket: {(totals[-1] - totals[0]) / a.conns:.0f}; top types (total count):")
        start = max(i for i, ln in enumerate(census) if ln.startswith("total="))
        print("\n".join("  " + ln for ln in census[start + 1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
