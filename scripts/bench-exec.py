#!/usr/bin/env python3
"""Cold start of a sandboxed /bin/true (and python3 -c pass): bare, phantom, bwrap, runc.

Run from the repository root after `scripts/build-release.sh` (the static release
binaries, as shipped; `--bin-dir target/release` measures a plain `cargo build
--release` instead):
    python3 scripts/bench-exec.py [--runs N] [--markdown] [--io] [--parts] [--bin-dir DIR]
Every tool gets comparable isolation: all namespaces including network, a read-only
root with /usr, /proc, /dev, a tmpfs /tmp and the workspace; phantom adds its cgroup
limits and the seccomp filter, and so does runc (as root only: Docker's default seccomp
profile from ../shared/corpus if there, cgroups beneath this process's own). Two rows
show what the kernel's namespaces alone cost here: unshare(1) creating the same
namespaces around /bin/true, with no mounts, and scripts/ns-floor.c (built static with
a C compiler if there is one), which does the least any sandbox with them can do:
clone into them, write the id maps, exec the command (also python3) as pid 1; and
scripts/plan-floor.c (as root), which does all phantom does for the bundle (the same
processes, system calls and order: id maps, network helper, mount plan, cgroups,
hardening, the bundle's own filter) in plain C, without phantom's overhead: what the
targets ask of the design itself. Medians and 90th percentiles in milliseconds;
every command runs once per round, in an order shuffled from round to round, so that
all rows share the same moments of the machine; then the ratios the issue sets targets
for. Then phantom's size: the stripped binary and the peak RSS of `phantom exec`
(`/usr/bin/time -f %M`, median of 21). With `--parts`, instead: what each part of a
cold start costs, the floor without and with its network namespace, the floor doing
the kernel's part of phantom's smallest sandbox (its ids, an init, its 5-step root:
`ns-floor -n -u -i -r`), then phantom under policies that add python-dev's parts one at
a time.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time
from benchlib import give_to_a_user


def measure_interleaved(commands, runs):
    """Medians and 90th percentiles (ms) of each (name, argv) in `commands`, run in
    rounds: every command once per round, in an order shuffled from round to round,
    so that all rows share the same moments of a machine whose speed drifts by a fifth
    within minutes. A command that fails is dropped with its error."""
    for _, cmd in commands:
        for _ in range(3):  # warm up caches
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = {name: [] for name, _ in commands}
    failed = {}
    order = list(commands)
    shuffle = random.Random(0).shuffle
    for _ in range(runs):
        # Each command follows a different one from round to round, so none always
        # pays for what the same predecessor left the kernel to finish (runc's, say).
        shuffle(order)
        for name, cmd in order:
            if name in failed:
                continue
            start = time.perf_counter()
            try:
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            except FileNotFoundError as e:
                failed[name] = str(e)
                continue
            times[name].append((time.perf_counter() - start) * 1000)
            if r.returncode != 0:
                failed[name] = f"{cmd[0]} failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
    results = {}
    for name, _ in commands:
        if name in failed:
            results[name] = (None, failed[name][:60])
            continue
        t = sorted(times[name])
        results[name] = (statistics.median(t), t[int(len(t) * 0.9) - 1])
    return results

def dd_seconds(stderr):
    # GNU dd: "268435456 bytes (268 MB, 256 MiB) copied, 0.215 s, 1.2 GB/s"
    import re
    m = re.search(r"copied, ([0-9.]+) s", stderr)
    if not m:
        raise SystemExit(f"unexpected dd output: {stderr}")
    return float(m.group(1))

def measure_io(phantom, bundle, ws, rounds=9, mib=256):
    """Sequential write (O_DIRECT, fsync) and read (O_DIRECT) of the same file, as dd
    reports them: the sandbox's start-up is not in the numbers, only the bind mount."""
    write = f"dd if=/dev/zero of={{f}} bs=1M count={mib} oflag=direct conv=fsync"
    read = f"dd if={{f}} of=/dev/null bs=1M iflag=direct"
    results = []
    for name, template in (("write", write), ("read", read)):
        host, sandboxed = [], []
        for _ in range(rounds):
            r = subprocess.run(["/bin/sh", "-c", template.format(f=os.path.join(ws, "io.bin"))], capture_output=True, text=True)
            host.append(dd_seconds(r.stderr))
            r = subprocess.run([phantom, "exec", bundle, "--workspace", ws, "--", "/bin/sh", "-c", template.format(f="/workspace/io.bin")], capture_output=True, text=True)
            sandboxed.append(dd_seconds(r.stderr))
        h, p = statistics.median(host), statistics.median(sandboxed)
        results.append((f"sequential {name}, {mib} MiB, O_DIRECT", mib / h, mib / p))
    return results

def peak_rss(phantom, bundle, ws):
    """The stripped size of `phantom` and the median peak RSS (KB) of a run."""
    with tempfile.TemporaryDirectory() as d:
        stripped = os.path.join(d, "phantom")
        subprocess.run(["strip", "-o", stripped, phantom], check=True)
        size = os.path.getsize(stripped)
    rss = []
    for _ in range(21):
        r = subprocess.run(["/usr/bin/time", "-f", "%M", phantom, "exec", bundle, "--workspace", ws, "--", "/bin/true"],
                           capture_output=True, text=True)
        rss.append(int(r.stderr.strip().splitlines()[-1]))
    return size, statistics.median(rss)

def bwrap_mounts(phantomc, bundle, ws):
    """bubblewrap arguments for the same mount plan as the bundle's, as far as bwrap
    can express it: masks become empty tmpfs or /dev/null binds; the read-only
    remounts under /proc are left out (bwrap cannot do them in a user namespace)."""
    import json
    plan = json.loads(subprocess.run([phantomc, "inspect", "--json", bundle], capture_output=True, check=True).stdout)["mounts"]
    args = []
    for step in plan:
        (kind, v), = step.items()
        t = v["target"]
        if kind == "Mkdir":
            args += ["--dir", t]
        elif kind == "Bind":
            src = v["source"].replace("${workspace}", ws)
            flag = "--bind" if v["writable"] else "--ro-bind"
            args += [flag + ("-try" if v["optional"] else ""), src, t]
        elif kind == "Tmpfs":
            args += ["--tmpfs", t]
        elif kind == "Proc":
            args += ["--proc", t]
        elif kind == "Dev":
            args += ["--dev", t]
        elif kind == "Symlink":
            args += ["--symlink", v["to"], t]
        elif kind == "Mask":
            if os.path.isdir(t):
                args += ["--tmpfs", t]
            elif os.path.exists(t):
                args += ["--ro-bind", "/dev/null", t]
        # ReadOnly steps have no bwrap equivalent that works under /proc in a user
        # namespace (--remount-ro fails there); bwrap gets them for free.
    return args

def docker_seccomp(root):
    """Docker's default seccomp profile (from the corpus beside the repository, if
    there) as an OCI `linux.seccomp` for x86_64 and a process without capabilities."""
    import json
    path = os.path.join(root, "..", "shared", "corpus", "docker-default-seccomp.json")
    if not os.path.exists(path):
        return None
    profile = json.load(open(path))
    rules = []
    for rule in profile["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("caps") or ("arches" in inc and "amd64" not in inc["arches"]) or "amd64" in exc.get("arches", []):
            continue
        out = {"names": rule["names"], "action": rule["action"]}
        for key in ("args", "errnoRet"):
            if key in rule:
                out[key] = rule[key]
        rules.append(out)
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile.get("defaultErrnoRet", 1),
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules}

def runc_bundle(runc, phantomc, bundle, ws, work, root):
    """An OCI bundle as close to the phantom bundle as runc's config expresses: user
    (container root mapped to 100000), mount, pid, ipc, uts, network and cgroup
    namespaces; a read-only root with the plan's binds, tmpfs mounts and symlinks,
    runc's /proc and /dev with the same masked and read-only paths; the memory, swap
    and pids limits, in cgroups beneath this process's own in each hierarchy (a relative
    `cgroupsPath`); no capabilities, no_new_privs; Docker's default seccomp profile."""
    import json
    plan = json.loads(subprocess.run([phantomc, "inspect", "--json", bundle], capture_output=True, check=True).stdout)["mounts"]
    # The container's root (host uid 100000) must reach the bundle inside `work`.
    os.chmod(work, 0o755)
    oci = os.path.join(work, "oci")
    rootfs = os.path.join(oci, "rootfs")
    os.makedirs(rootfs)
    subprocess.run([runc, "spec"], cwd=oci, check=True)
    config = json.load(open(os.path.join(oci, "config.json")))
    mounts = [m for m in config["mounts"] if not m["destination"].startswith("/sys")]
    for step in plan:
        (kind, v), = step.items()
        t = v["target"]
        if kind == "Bind":
            src = v["source"].replace("${workspace}", ws)
            if not os.path.exists(src):
                continue
            opts = ["rbind", "nosuid", "nodev"] + ([] if v["writable"] else ["ro"])
            mounts.append({"destination": t, "type": "bind", "source": src, "options": opts})
        elif kind == "Tmpfs":
            mounts.append({"destination": t, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]})
        elif kind == "Symlink":
            os.symlink(v["to"], os.path.join(rootfs, t.lstrip("/")))
    config["mounts"] = mounts
    process = config["process"]
    process.update({"args": ["/bin/true"], "terminal": False, "cwd": "/workspace", "user": {"uid": 1000, "gid": 1000},
                    "noNewPrivileges": True, "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]})
    process["capabilities"] = {k: [] for k in ("bounding", "effective", "permitted", "ambient")}
    linux = config["linux"]
    linux["maskedPaths"] = [p for p in linux["maskedPaths"] if not p.startswith("/sys")]
    linux["namespaces"] += [{"type": "user"}, {"type": "cgroup"}]
    linux["uidMappings"] = linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    linux["cgroupsPath"] = f"phantom-bench-runc-{os.getpid()}"
    linux["resources"]["memory"] = {"limit": 2 << 30, "swap": 2 << 30}
    linux["resources"]["pids"] = {"limit": 512}
    seccomp = docker_seccomp(root)
    if seccomp:
        linux["seccomp"] = seccomp
    json.dump(config, open(os.path.join(oci, "config.json"), "w"))
    # The container's root (host uid 100000) creates the mount points.
    subprocess.run(["chown", "-h", "-R", "100000:100000", rootfs], check=True)
    return oci

UNSHARE = "unshare: user, mount, pid, ipc, uts, net, cgroup namespaces; no mounts; /bin/true"
PHANTOM = "phantom exec (python-dev bundle) /bin/true"
BWRAP_SAME = "bwrap --unshare-all, the same mount plan, /bin/true"
BWRAP_8 = "bwrap --unshare-all, 8 mounts, /bin/true"
PYTHON_BARE = "bare python3 -c pass"
PYTHON_PHANTOM = "phantom exec python3 -c pass"
FLOOR = "scripts/ns-floor.c: the same namespaces, nothing else; /bin/true"
PYTHON_FLOOR = "scripts/ns-floor.c: the same namespaces, nothing else; python3 -c pass"
PLAN_FLOOR = "scripts/plan-floor.c: phantom's whole design for the bundle, in plain C; /bin/true"
PYTHON_PLAN_FLOOR = "scripts/plan-floor.c: phantom's whole design for the bundle, in plain C; python3 -c pass"

def build_floor(root, work):
    """scripts/ns-floor.c built static in `work` (musl-gcc where at hand: glibc's start-up
    probes the CPU, slowly in a VM); None, with a note, where no C compiler can."""
    source = os.path.join(root, "scripts", "ns-floor.c")
    out = os.path.join(work, "ns-floor")
    for cc in ("musl-gcc", "cc"):
        if shutil.which(cc) and subprocess.run([cc, "-O2", "-static", "-o", out, source],
                                               stderr=subprocess.DEVNULL).returncode == 0:
            return out
    print("note: no static C compiler (Debian: musl-tools); the ns-floor rows are left out", file=sys.stderr)
    return None

def cgroup_parents():
    """plan-floor's CGROUPS argument: this process's own cgroups (v1: the memory and the
    pids hierarchy's, joined by a colon; v2: its one directory), or None."""
    own = {}
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            own[c] = path.lstrip("/")
    # Each hierarchy's mount point and the part of the hierarchy it shows (its root).
    mounts = {}
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        rest = fields[fields.index("-") + 1:]
        if rest[0] == "cgroup":
            for option in rest[2].split(","):
                mounts.setdefault(option, (fields[4], fields[3]))
        elif rest[0] == "cgroup2":
            mounts.setdefault("", (fields[4], fields[3]))
    def directory(c):
        point, shown = mounts[c]
        return os.path.normpath(os.path.join(point, os.path.relpath("/" + own[c], shown)))
    if "memory" in own and "pids" in own and "memory" in mounts and "pids" in mounts:
        return ":".join(directory(c) for c in ("memory", "pids"))
    if "" in own and "" in mounts:
        unified = directory("")
        if {"memory", "pids"} <= set(open(os.path.join(unified, "cgroup.subtree_control")).read().split()):
            return unified
    return None

def plan_floor_command(root, phantomc, policy, bundle, ws, work):
    """scripts/plan-floor.c built static, with its plan and cgroups written from
    `bundle` and its filter compiled from `policy`, the bundle's source (a bundle's raw
    filter has no export): the argv before the command, or None with a note (it needs
    root, a C compiler and a memory and a pids controller)."""
    import json, platform
    cgroups = cgroup_parents() if os.geteuid() == 0 else None
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine())
    out = os.path.join(work, "plan-floor")
    built = cgroups and arch and any(
        shutil.which(cc) and subprocess.run([cc, "-O2", "-static", "-o", out, os.path.join(root, "scripts", "plan-floor.c")],
                                            stderr=subprocess.DEVNULL).returncode == 0
        for cc in ("musl-gcc", "cc"))
    if not built:
        print("note: the plan-floor rows need root, a memory and a pids cgroup controller and a static C compiler; left out", file=sys.stderr)
        return None
    info = json.loads(subprocess.run([phantomc, "inspect", "--json", bundle], capture_output=True, check=True).stdout)
    owner = os.stat(ws)
    lines = [f"net {'none' if info['network'] == 'None' else 'host'}",
             f"limits {info['cgroup'].get('memory_max') or 0} {info['cgroup'].get('pids_max') or 0}",
             f"ids {owner.st_uid} {owner.st_gid}"]
    lines += [f"landlock {rule['path']} {'rw' if rule['access'] == 'ReadWrite' else 'ro'}" for rule in info["landlock"]["paths"]]
    for step in info["mounts"]:
        (kind, s), = step.items()
        t = s["target"]
        lines.append({
            "Symlink": lambda: f"symlink {t} {s['to']}",
            "Mkdir": lambda: f"mkdir {t} {s['mode']:o}",
            "Proc": lambda: f"proc {t}",
            "Tmpfs": lambda: f"tmpfs {t} {s['size']} {s['mode']:o}",
            "Mask": lambda: f"mask {t}",
            "ReadOnly": lambda: f"ro {t}",
            "Bind": lambda: f"bind {t} {s['source'].replace('${workspace}', ws)} {'rw' if s['writable'] else 'ro'}",
            "Dev": lambda: f"dev {t} " + " ".join(s["nodes"]),
        }[kind]())
    plan, bpf = os.path.join(work, "floor.plan"), os.path.join(work, "floor.bpf")
    open(plan, "w").write("\n".join(lines) + "\n")
    subprocess.run([phantomc, "compile", policy, "--emit", "bpf", "--arch", arch, "-o", bpf], check=True, stderr=subprocess.DEVNULL)
    return [out, plan, bpf, cgroups]

# The parts of a cold start (`--parts`): python-dev taken apart, one step at a time. Each
# policy adds one thing to the one before; the rows' differences are what each costs.
PARTS_SMALL_FS = """filesystem {
    ro /usr
    symlink /bin to "usr/bin"
    symlink /lib to "usr/lib"
    symlink /lib64 to "usr/lib64"
}"""
PARTS_NO_LIMITS = """resources {
    memory unlimited
    swap unlimited
    pids unlimited
}"""

def parts_policies(root):
    """(label, policy text) for `--parts`, in order; python-dev itself comes after them."""
    base = open(os.path.join(root, "stdlib-profiles", "base.pfp")).read()
    start = base.index("\nfilesystem {") + 1
    base_fs = base[start:base.index("\n}", start) + 2]
    def policy(name, fs, network, limits):
        return "\n".join([f'policy "{name}"', "syscalls {\n    default allow\n}", fs, f"network {network}",
                          limits, "process {\n    uid 1000\n    gid 1000\n}", ""])
    return [
        ("phantom: network host, no cgroup limits, 5 mount steps, no filter",
         policy("parts-host", PARTS_SMALL_FS, "host", PARTS_NO_LIMITS)),
        ("the same in a network namespace of its own",
         policy("parts-net", PARTS_SMALL_FS, "none", PARTS_NO_LIMITS)),
        ("the same with the default memory and pids limits",
         policy("parts-limits", PARTS_SMALL_FS, "none", "")),
        ("base's filesystem (44 steps) instead of 5",
         policy("parts-fs", base_fs, "none", "")),
    ]

def measure_parts(phantom, phantomc, bundle, floor, ws, work, root, runs):
    """Rows of `--parts`: the floor without and with the network namespace, the floor
    doing the kernel's part of phantom's smallest sandbox, then phantom with
    python-dev's parts added one at a time, interleaved."""
    commands = [("bare /bin/true", ["/bin/true"])]
    if floor:
        commands += [("ns-floor without the network namespace", [floor, "-n", "/bin/true"]),
                     ("ns-floor", [floor, "/bin/true"]),
                     # The kernel's part of the next row, done as plainly as C can:
                     # the two rows' difference is phantom's own.
                     ("ns-floor -n -u -i -r: the next row's ids, init and root, nothing else",
                      [floor, "-n", "-u", "-i", "-r", "/bin/true"])]
    for i, (label, text) in enumerate(parts_policies(root)):
        source, out = os.path.join(work, f"parts-{i}.pfp"), os.path.join(work, f"parts-{i}.pfb")
        open(source, "w").write(text)
        subprocess.run([phantomc, "compile", source, "-o", out], check=True, stderr=subprocess.DEVNULL)
        commands.append((label, [phantom, "exec", out, "--workspace", ws, "--", "/bin/true"]))
    commands.append(("python-dev (base's filter, Landlock rules, rlimits)", [phantom, "exec", bundle, "--workspace", ws, "--", "/bin/true"]))
    results = measure_interleaved(commands, runs)
    print("| what runs | median ms | p90 ms |\n|---|---:|---:|")
    for name, _ in commands:
        med, p90 = results[name]
        print(f"| {name} | {med:.2f} | {p90:.2f} |" if med is not None else f"| {name} | n/a | {p90} |")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--io", action="store_true",
                    help="also measure sequential workspace I/O (O_DIRECT, 256 MiB, 9 rounds) on the host and through phantom's bind mount")
    ap.add_argument("--parts", action="store_true",
                    help="instead: what each part of a cold start costs (python-dev taken apart, against the floor)")
    ap.add_argument("--bin-dir", help="where phantom and phantomc are (default: the static release build of scripts/build-release.sh)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # Where scripts/build-release.sh put them (CARGO_TARGET_DIR moves it there too).
    target_dir = os.path.join(root, os.environ.get("CARGO_TARGET_DIR", "target"))
    bin_dir = args.bin_dir or os.path.join(target_dir, "release-static")
    phantom = os.path.join(bin_dir, "phantom")
    phantomc = os.path.join(bin_dir, "phantomc")
    if not os.path.exists(phantom):
        raise SystemExit(f"no {phantom}: run scripts/build-release.sh first, or pass --bin-dir")
    work = tempfile.mkdtemp(prefix="phantom-bench-")
    ws = os.path.join(work, "ws")
    os.mkdir(ws)
    give_to_a_user(ws)
    bundle = os.path.join(work, "python-dev.pfb")
    policy = os.path.join(root, "stdlib-profiles", "python-dev.pfp")
    subprocess.run([phantomc, "compile", policy, "-o", bundle], check=True, stderr=subprocess.DEVNULL)
    if args.parts:
        measure_parts(phantom, phantomc, bundle, build_floor(root, work), ws, work, root, args.runs)
        shutil.rmtree(work, ignore_errors=True)
        return
    commands = []
    def row(name, cmd):
        commands.append((name, cmd))
    row("bare /bin/true", ["/bin/true"])
    unshare = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--ipc", "--uts", "--net", "--cgroup"]
    if shutil.which("unshare"):
        row(UNSHARE, unshare + ["/bin/true"])
    floor = build_floor(root, work)
    if floor:
        row(FLOOR, [floor, "/bin/true"])
    row(PHANTOM, [phantom, "exec", bundle, "--workspace", ws, "--", "/bin/true"])
    bwrap = shutil.which("bwrap")
    if bwrap:
        row(BWRAP_SAME, [bwrap, "--unshare-all", "--die-with-parent"] + bwrap_mounts(phantomc, bundle, ws) + ["--", "/bin/true"])
        row(BWRAP_8, [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc",
            "--dev", "/dev", "--tmpfs", "/tmp", "--bind", ws, "/workspace", "--", "/bin/true"])
    if shutil.which("python3") and os.path.exists("/usr/bin/python3"):
        row(PYTHON_BARE, ["/usr/bin/python3", "-c", "pass"])
        row(PYTHON_PHANTOM, [phantom, "exec", bundle, "--workspace", ws, "--", "/usr/bin/python3", "-c", "pass"])
        if floor:
            row(PYTHON_FLOOR, [floor, "/usr/bin/python3", "-c", "pass"])
    plan_floor = plan_floor_command(root, phantomc, policy, bundle, ws, work)
    if plan_floor:
        row(PLAN_FLOOR, plan_floor + ["/bin/true"])
        if os.path.exists("/usr/bin/python3"):
            row(PYTHON_PLAN_FLOOR, plan_floor + ["/usr/bin/python3", "-c", "pass"])
    results = measure_interleaved(commands, args.runs)
    rows = [(name,) + results[name] for name, _ in commands]
    # runc by itself, after the others: ten times slower, it leaves the kernel enough
    # to finish after each run to slow whichever command came next.
    runc = shutil.which("runc")
    if runc and os.geteuid() == 0:
        oci = runc_bundle(runc, phantomc, bundle, ws, work, root)
        name = "runc run, the same namespaces, mounts and limits, Docker's seccomp profile, /bin/true"
        cmd = [runc, "--root", os.path.join(work, "runc-state"), "run", "--bundle", oci, f"bench-{os.getpid()}"]
        after = next((i + 1 for i, r in enumerate(rows) if r[0] == BWRAP_8), len(rows))
        rows.insert(after, (name,) + measure_interleaved([(name, cmd)], max(args.runs // 4, 1))[name])
    size = peak_rss(phantom, bundle, ws)
    io_rows = measure_io(phantom, bundle, ws) if args.io else []
    shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        print(f"| command | median ms | p90 ms |\n|---|---:|---:|")
        for name, med, p90 in rows:
            print(f"| {name} | {med:.2f} | {p90:.2f} |" if med is not None else f"| {name} | n/a | {p90} |")
    else:
        for name, med, p90 in rows:
            print(f"{name:55} median {med:7.2f} ms  p90 {p90:7.2f} ms" if med is not None else f"{name:55} unavailable: {p90}")
    def ratios(pairs):
        """`label a/b` of the medians in `pairs` of (label, numerator row, denominator row)."""
        out = []
        for label, num, den in pairs:
            a, b = results.get(num, (None,))[0], results.get(den, (None,))[0]
            if a is not None and b is not None:
                out.append(f"{label} {a / b:.2f}")
        return "; ".join(out)
    targets = ratios((("phantom / bwrap with the same plan", PHANTOM, BWRAP_SAME),
                      ("phantom / bwrap with 8 mounts", PHANTOM, BWRAP_8),
                      ("phantom python3 / bare python3", PYTHON_PHANTOM, PYTHON_BARE)))
    if targets:
        print("\nmedians: " + targets)
    # What the kernel's namespaces alone cost against the same denominators: a target
    # below these would be below what creating the namespaces takes on this machine.
    floors = ratios((("ns-floor / bwrap with the same plan", FLOOR, BWRAP_SAME),
                     ("ns-floor / bwrap with 8 mounts", FLOOR, BWRAP_8),
                     ("ns-floor python3 / bare python3", PYTHON_FLOOR, PYTHON_BARE)))
    if floors:
        print("the namespaces alone: " + floors)
    # phantom's design without phantom: what the targets ask of the design itself here.
    design = ratios((("plan-floor / bwrap with the same plan", PLAN_FLOOR, BWRAP_SAME),
                     ("plan-floor / bwrap with 8 mounts", PLAN_FLOOR, BWRAP_8),
                     ("plan-floor python3 / bare python3", PYTHON_PLAN_FLOOR, PYTHON_BARE)))
    if design:
        print("the design in plain C: " + design)
    stripped, rss = size
    print(f"\nphantom binary, stripped: {stripped / 2**20:.2f} MiB; peak RSS of `phantom exec … /bin/true`: {rss / 1024:.2f} MiB (median of 21)")
    if io_rows:
        print("\n| workspace I/O (median of 9) | host MiB/s | phantom MiB/s | phantom / host |\n|---|---:|---:|---:|")
        for name, host, sandboxed in io_rows:
            print(f"| {name} | {host:.0f} | {sandboxed:.0f} | {sandboxed / host:.3f} |")

if __name__ == "__main__":
    main()
