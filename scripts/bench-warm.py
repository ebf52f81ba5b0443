#!/usr/bin/env python3
"""Warm starts (`phantom serve`, `phantom run --warm`) against cold ones and bare.

Run from the repository root after `scripts/build-release.sh` (the static release
binaries; `--bin-dir target/release` for a plain `cargo build --release`):
    python3 scripts/bench-warm.py [--runs N] [--gap SECONDS] [--markdown] [--bin-dir DIR]
Starts a `phantom serve` of its own (socket in a temporary directory) with a pool of
plain python-dev sandboxes and one of warm Python interpreters, then times, from this
script's spawn of the client to its exit (`end`) and to the first line the user's
Python code prints (`first line`, read from the code's own clock):
  /bin/true warm and cold, `python3 -c` warm, cold and bare.
Runs are spaced by --gap seconds (default 0.1) so the pool refills between them, as
it does between an agent's calls; back to back (--gap 0) a pool drains faster than it
refills on a 2-CPU machine, and runs fall back to plain or freshly parked sandboxes.
"""
import argparse, os, signal, statistics, subprocess, sys, tempfile, time
from benchlib import give_to_a_user

CODE = "import time; print(time.time_ns())"



def client_start(stderr):
    # `phantom timing: client start (clock S ms)`: the wall clock modulo 10 s, in ms.
    for line in stderr.decode(errors="replace").splitlines():
        if "client start (clock" in line:
            return float(line.split("(clock ")[1].split(" ms")[0])
    return None


def timed(cmd, runs, gap, env, first_line=False, from_client=False):
    """Medians and p90s of (first line, end) from the launch; with from_client, the
    first line from the client's own start instead (its PHANTOM_TIMING mark)."""
    if from_client:
        env = dict(env, PHANTOM_TIMING="1")
    ends, firsts = [], []
    for _ in range(3):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(runs):
        time.sleep(gap)
        start = time.time_ns()
        r = subprocess.run(cmd, capture_output=True, env=env)
        end = time.time_ns()
        if r.returncode != 0:
            raise SystemExit(f"{cmd} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
        ends.append((end - start) / 1e6)
        if first_line:
            printed = int(r.stdout.split()[0])
            origin = start
            if from_client:
                ms = client_start(r.stderr)
                if ms is not None:
                    # Both clocks modulo 10 s; the client started just after `start`.
                    base = start - start % 10_000_000_000
                    origin = base + int(ms * 1e6)
                    if origin < start - 1_000_000_000:
                        origin += 10_000_000_000
            firsts.append((printed - origin) / 1e6)
    med = lambda xs: statistics.median(xs) if xs else None
    p90 = lambda xs: sorted(xs)[int(len(xs) * 0.9) - 1] if xs else None
    return med(firsts), p90(firsts), med(ends), p90(ends)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--gap", type=float, default=0.1)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--bin-dir", help="where phantom is (default: the static release build of scripts/build-release.sh)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # Where scripts/build-release.sh put it (CARGO_TARGET_DIR moves it there too).
    target_dir = os.path.join(root, os.environ.get("CARGO_TARGET_DIR", "target"))
    phantom = os.path.join(args.bin_dir or os.path.join(target_dir, "release-static"), "phantom")
    if not os.path.exists(phantom):
        raise SystemExit(f"no {phantom}: run scripts/build-release.sh first, or pass --bin-dir")
    work = tempfile.mkdtemp(prefix="phantom-warm-")
    os.chmod(work, 0o700)
    ws = os.path.join(work, "ws")
    os.mkdir(ws)
    give_to_a_user(ws)
    env = dict(os.environ, PHANTOM_SOCKET=os.path.join(work, "serve.sock"))
    env.pop("PHANTOM_TIMING", None)
    env.pop("PHANTOM_DEBUG", None)
    server = subprocess.Popen([phantom, "serve", "--profiles", "python-dev", "--warm-python", "python-dev"],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while not os.path.exists(env["PHANTOM_SOCKET"]):
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit("phantom serve did not start: " + server.stderr.read().decode(errors="replace"))
            time.sleep(0.05)
        time.sleep(2)  # the pools fill
        run = [phantom, "run", "--profile", "python-dev", "--workspace", ws]
        rows = [
            ("bare /bin/true", timed(["/bin/true"], args.runs, args.gap, env)),
            ("phantom run --warm /bin/true", timed(run[:2] + ["--warm"] + run[2:] + ["--", "/bin/true"], args.runs, args.gap, env)),
            ("phantom run (cold) /bin/true", timed(run + ["--", "/bin/true"], args.runs, args.gap, env)),
            ("bare /usr/bin/python3 -c", timed(["/usr/bin/python3", "-c", CODE], args.runs, args.gap, env, True)),
            ("phantom run --warm python3 -c (warm interpreter)", timed(run[:2] + ["--warm"] + run[2:] + ["--", "python3", "-c", CODE], args.runs, args.gap, env, True)),
            ("phantom run (cold) python3 -c", timed(run + ["--", "python3", "-c", CODE], args.runs, args.gap, env, True)),
            ("the same warm run, first line from the client's own start", timed(run[:2] + ["--warm"] + run[2:] + ["--", "python3", "-c", CODE], args.runs, args.gap, env, True, True)),
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    fmt = lambda x: "" if x is None else f"{x:.2f}"
    if args.markdown:
        print(f"| runs spaced {args.gap} s | first line median ms | p90 | end median ms | p90 |")
        print("|---|---:|---:|---:|---:|")
        for name, (f, f90, e, e90) in rows:
            print(f"| {name} | {fmt(f)} | {fmt(f90)} | {fmt(e)} | {fmt(e90)} |")
    else:
        for name, (f, f90, e, e90) in rows:
            print(f"{name:50} first line {fmt(f):>7} ms  end {fmt(e):>7} ms (p90 {fmt(e90)})")


if __name__ == "__main__":
    sys.exit(main())
