#!/usr/bin/env python3
"""Two `phantom` binaries side by side: which one starts a sandbox faster.

This machine's speed drifts by more than a change to the runtime moves it, so compare
binaries run alternately rather than runs made at different times:
    python3 scripts/bench-ab.py OLD/phantom NEW/phantom [--runs N] [--gap S] [-- CMD ...]
Each round runs `phantom run --profile python-dev --workspace DIR -- CMD` (default
`/bin/true`) with one binary, then the other, in the order A B, and then the whole again
in the order B A (whichever runs second after the other pays for what the first left
the kernel to finish), spaced `--gap` seconds. Medians and 90th percentiles in
milliseconds, per order and overall. Keep a copy of the old binary before rebuilding
(`cp target/release-static/phantom /tmp/phantom-before`).
"""
import argparse, os, statistics, subprocess, sys, tempfile, time
from benchlib import give_to_a_user



def run_once(phantom, ws, command):
    start = time.perf_counter()
    r = subprocess.run([phantom, "run", "--profile", "python-dev", "--workspace", ws, "--"] + command,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - start) * 1000
    if r.returncode != 0:
        raise SystemExit(f"{phantom} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return elapsed


def summary(times):
    times = sorted(times)
    return f"median {statistics.median(times):7.3f} ms  p90 {times[int(len(times) * 0.9) - 1]:7.3f} ms"


def main():
    argv = sys.argv[1:]
    command = ["/bin/true"]
    if "--" in argv:
        command = argv[argv.index("--") + 1:] or command
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(description="two phantom binaries, run alternately")
    ap.add_argument("a", help="the first phantom binary (the old one, say)")
    ap.add_argument("b", help="the second")
    ap.add_argument("--runs", type=int, default=300, help="runs of each binary in each order")
    ap.add_argument("--gap", type=float, default=0.02, help="seconds between runs")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="phantom-ab-") as ws:
        give_to_a_user(ws)
        for b in (args.a, args.b):  # warm the page cache
            for _ in range(3):
                run_once(b, ws, command)
        results = {args.a: [], args.b: []}
        for order in ((args.a, args.b), (args.b, args.a)):
            part = {b: [] for b in order}
            for _ in range(args.runs):
                for b in order:
                    part[b].append(run_once(b, ws, command))
                    time.sleep(args.gap)
            print(f"order {' then '.join(os.path.basename(os.path.dirname(b)) or b for b in order)}:")
            for b in order:
                print(f"  {b:60} {summary(part[b])}")
                results[b].extend(part[b])
        print("overall:")
        for b in (args.a, args.b):
            print(f"  {b:60} {summary(results[b])}")


if __name__ == "__main__":
    main()
