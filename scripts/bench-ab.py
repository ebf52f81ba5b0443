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

Each binary runs as `--copies` byte-identical copies (3 by default), used in turn: here
two copies of one binary differ by up to 0.135 ms in their medians, each having its own
page-cache pages (docs/benchmarks.md, ninth session). The summary gives each binary's
median over all its copies and the spread between its copies' medians; a difference
between the binaries smaller than that spread says nothing.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time
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
    ap.add_argument("--copies", type=int, default=3, help="byte-identical copies of each binary, used in turn")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="phantom-ab-") as ws, \
            tempfile.TemporaryDirectory(prefix="phantom-ab-bin-") as bins:
        give_to_a_user(ws)
        # Keyed by label, not path: a binary may be compared with itself (a null test).
        binaries = {"a": args.a, "b": args.b}
        copies = {}
        for label, b in binaries.items():
            copies[label] = []
            for i in range(max(1, args.copies)):
                path = os.path.join(bins, f"{label}{i}", "phantom")
                os.makedirs(os.path.dirname(path))
                shutil.copy2(b, path)
                copies[label].append(path)
                for _ in range(3):  # warm its page cache
                    run_once(path, ws, command)
        results = {c: [] for label in copies for c in copies[label]}
        for order in (("a", "b"), ("b", "a")):
            part = {label: [] for label in order}
            for i in range(args.runs):
                for label in order:
                    copy = copies[label][i % len(copies[label])]
                    elapsed = run_once(copy, ws, command)
                    part[label].append(elapsed)
                    results[copy].append(elapsed)
                    time.sleep(args.gap)
            print(f"order {' then '.join(os.path.basename(os.path.dirname(binaries[l])) or binaries[l] for l in order)}:")
            for label in order:
                print(f"  {binaries[label]:60} {summary(part[label])}")
        print("overall (all copies):")
        medians, spreads = {}, []
        for label, b in binaries.items():
            pooled = [t for c in copies[label] for t in results[c]]
            per_copy = [statistics.median(results[c]) for c in copies[label]]
            medians[label] = statistics.median(pooled)
            spread = max(per_copy) - min(per_copy)
            spreads.append(spread)
            print(f"  {b:60} {summary(pooled)}  copies' medians {' '.join(f'{m:.3f}' for m in per_copy)} (spread {spread:.3f})")
        diff = medians["b"] - medians["a"]
        verdict = "within the copies' spread: no difference shown" if abs(diff) <= max(spreads) else "beyond the copies' spread"
        print(f"second - first: {diff:+.3f} ms ({verdict})")


if __name__ == "__main__":
    main()
