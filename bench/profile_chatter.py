"""Profile Chatter under load with py-spy and print where the server's time goes.

    .venv/bin/python bench/profile_chatter.py [--members 1000] [--seconds 10] [--rate 0]
    .venv/bin/python bench/profile_chatter.py --scenario storm --members 5000
    .venv/bin/python bench/profile_chatter.py --scenario rooms --members 10000 --rate 2000

Starts Chatter on core 0 exactly as bench.py does, fills one room (``fanout``, ``storm``)
or rooms of 5 (``rooms``), drives it with lg on core 1 (fan-out: closed loop by default,
or --rate msgs/s; storm: everyone connects at once and holds), and samples the server with
`py-spy record --format raw` (collapsed stacks, 100 Hz, idle frames dropped). Prints the
top frames by self and by inclusive time; the raw file stays in bench/results/.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def summarize(raw: Path, top: int) -> str:
    self_t: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        k = int(n)
        total += k
        frames = stack.split(";")
        self_t[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    out = [f"{total} samples"]
    out.append("-- self --")
    out += [f"{100 * v / total:5.1f}%  {f}" for f, v in self_t.most_common(top)]
    out.append("-- inclusive --")
    out += [f"{100 * v / total:5.1f}%  {f}" for f, v in incl.most_common(top)]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=float, default=0, help="msgs/s offered; 0 = closed loop (window 16)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--scenario", choices=("fanout", "storm", "rooms"), default="fanout")
    ap.add_argument("--hz", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--gil", action="store_true", help="only samples holding the GIL (CPU spent in Python)")
    ap.add_argument("--delay", type=float, default=0,
                    help="seconds to wait before sampling (skip the connect phase; the load runs this much longer)")
    ap.add_argument("--blocking", action="store_true", help="pause the server per sample: whole stacks, more overhead")
    a = ap.parse_args()
    bench.raise_nofile()
    bench.ensure_tools()
    pyspy = bench.ROOT / ".venv" / "bin" / "py-spy"
    out = bench.BENCH / "results"
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="chatter-prof-"))
    srv = bench.start_server("chatter", work)
    try:
        assert srv.rest is not None
        toks = bench.chatter_population(srv.rest, a.members, 5 if a.scenario == "rooms" else 0, "p")
        srv.extra["tokens"] = toks
        raw = out / f"profile-{time.strftime('%H%M%S')}.txt"
        res: dict[str, object] = {}

        def load() -> None:
            if a.scenario == "storm":
                res["lg"] = bench.lg(srv, a.members, tokens=toks, tag="prof",
                                     extra=["--hold", str(a.seconds), "--connect-timeout", "60"])
                return
            extra = ["--window", "16", "--duration", str(a.seconds + a.delay), "--warmup", "1", "--drain", "20"]
            if a.scenario == "rooms":
                extra += ["--room-size", "5", "--connect-timeout", "120"]
            res["lg"] = bench.lg(srv, a.members, tokens=toks, rates=[a.rate], tag="prof", extra=extra)
        th = threading.Thread(target=load)
        th.start()
        time.sleep(a.delay)
        spy = subprocess.Popen([str(pyspy), "record", "-p", str(srv.pid), "-r", str(a.hz), "-d", str(int(a.seconds + 2)),
                                "--format", "raw", "-o", str(raw), *([] if a.blocking else ["--nonblocking"]), *(["--gil"] if a.gil else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        th.join(a.seconds + 120)
        spy.wait(60)
        r = res.get("lg")
        if isinstance(r, dict) and a.scenario == "storm":
            print(f"ready {r['ready']}/{a.members} in {r['connect']['t_all_ready_s']} s, "
                  f"server cpu {r['server']['cpu_connect_us'] / 1e6:.2f} s")
        elif isinstance(r, dict):
            st = r["steps"][0]
            print(f"deliveries/s {st['deliveries_per_s']:.1f}  msgs/s {st['msgs_per_s']:.2f}  lost {r['lost']}  "
                  f"cpu/delivery {st['server_cpu_us_per_delivery']:.2f} us  p99 {st['lat_us']['p99']} us  "
                  f"server util {st['server_cpu_util']}  lg util {st['lg_cpu_util']}")
        if raw.exists():
            print(summarize(raw, a.top))
            print(f"raw stacks: {raw}")
        else:
            print("py-spy produced nothing:", spy.stderr.read().decode()[-1000:] if spy.stderr else "")
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
