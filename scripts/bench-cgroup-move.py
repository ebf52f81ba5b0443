#!/usr/bin/env python3
"""How long a move into a new cgroup v1 directory takes after an idle moment: a move by
pid (`cgroup.procs`, what phantom did) against a process moving itself (`0` written to
`tasks` through a descriptor opened before, what phantom's init does now).

    sudo python3 scripts/bench-cgroup-move.py [--tries N] [--idle SECONDS]

Needs root and a v1 `pids` hierarchy at /sys/fs/cgroup/pids (as on this project's
hybrid CI hosts); its directories are made beneath this process's own cgroup there and
removed. docs/benchmarks.md, "A cold start after an idle moment", has the reason.
"""
import argparse, os, statistics, sys, time

def own_dir(controller):
    for line in open("/proc/self/cgroup"):
        _, names, path = line.rstrip("\n").split(":", 2)
        if controller in names.split(","):
            return os.path.join(f"/sys/fs/cgroup/{controller}", path.lstrip("/"))
    raise SystemExit(f"no v1 {controller} hierarchy in /proc/self/cgroup")

def one(base, how, idle, n):
    d = os.path.join(base, f"phantom-bench-move-{os.getpid()}-{how}-{n}")
    os.mkdir(d)
    try:
        r, w = os.pipe()
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(w)
            tasks = os.open(os.path.join(d, "tasks"), os.O_WRONLY) if how == "self" else None
            os.read(r, 1)
            if how == "self":
                start = time.perf_counter()
                os.write(tasks, b"0")
                os.write(report_w, f"{time.perf_counter() - start}".encode())
            os._exit(0)
        os.close(r)
        os.close(report_w)
        time.sleep(idle)  # long enough for the kernel's RCU sync state to go idle
        took = None
        if how == "pid":
            start = time.perf_counter()
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))
            took = time.perf_counter() - start
        os.write(w, b"g")
        os.close(w)
        if how == "self":
            took = float(os.read(report_r, 64).decode())
        os.close(report_r)
        os.waitpid(pid, 0)
        return took * 1e6
    finally:
        os.rmdir(d)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=8)
    ap.add_argument("--idle", type=float, default=0.3)
    args = ap.parse_args()
    base = own_dir("pids")
    for how, label in (("pid", "move by pid (cgroup.procs)"), ("self", "move of oneself (0 to tasks)")):
        times = [one(base, how, args.idle, n) for n in range(args.tries)]
        print(f"{label:32} median {statistics.median(times):9.0f} µs  min {min(times):7.0f}  max {max(times):7.0f}")

if __name__ == "__main__":
    main()
