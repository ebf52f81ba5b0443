"""End-to-end test of phantom-mcp through the official MCP Python SDK (`mcp` on PyPI).

Usage: client_test.py PHANTOM_MCP [SERVER_ARGS...]
Run by runtime/tests/mcp_e2e.rs with the venv scripts/test.sh creates under target/.
Prints one line per check and closes with 'N passed, N failed'; exits 1 on a failure.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time

from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client

SERVER = sys.argv[1]
EXTRA = sys.argv[2:]
passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def structured(result):
    value = getattr(result, "structured_content", None)
    if value is None:
        value = getattr(result, "structuredContent", None)
    return value or {}


def is_error(result):
    value = getattr(result, "is_error", None)
    if value is None:
        value = getattr(result, "isError", None)
    return bool(value)


def text(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def expect_rpc_error(session, name, args, needle):
    try:
        result = await session.call_tool(name, args)
    except MCPError as e:
        return needle.lower() in str(e).lower(), str(e)
    return False, f"no JSON-RPC error; result {text(result)[:300]}"


async def main_session(session):
    tools = await session.list_tools()
    names = {t.name for t in tools.tools}
    expected = {"run_code", "exec", "create_workspace", "destroy_workspace", "list_workspaces",
                "write_file", "read_file", "list_files", "list_profiles"}
    check("tools listed", expected <= names, f"missing {expected - names}")

    r = await session.call_tool("list_profiles", {})
    langs = [p["language"] for p in structured(r).get("profiles", [])]
    check("list_profiles", langs == ["python", "node", "go", "shell"], structured(r))

    r = await session.call_tool("run_code", {"language": "python", "code": "print('hello from python')"})
    s = structured(r)
    check("run_code python", s.get("exit_code") == 0 and s.get("reason") == "exited"
          and s.get("stdout") == "hello from python\n" and not s.get("truncated")
          and s.get("stdout_bytes") == 18 and isinstance(s.get("duration_ms"), int), s)
    check("run_code text form", "exited with 0" in text(r) and "hello from python" in text(r), text(r))

    r = await session.call_tool("run_code", {"language": "python", "stdin": "abc\ndef\n",
                                             "code": "import sys; print(sys.stdin.read().upper(), end='')"})
    check("stdin", structured(r).get("stdout") == "ABC\nDEF\n", structured(r))

    r = await session.call_tool("run_code", {"language": "python",
                                             "code": "import sys; print('bad', file=sys.stderr); sys.exit(3)"})
    s = structured(r)
    check("exit code and stderr", s.get("exit_code") == 3 and s.get("reason") == "exited"
          and s.get("stderr") == "bad\n" and "phantom:" not in s.get("stderr", "x"), s)

    r = await session.call_tool("run_code", {"language": "node", "code": "console.log(6 * 7)"})
    check("run_code node", structured(r).get("stdout") == "42\n", structured(r))

    r = await session.call_tool("run_code", {"language": "shell", "code": "echo $((2+3)); echo err >&2"})
    s = structured(r)
    check("run_code shell", s.get("stdout") == "5\n" and s.get("stderr") == "err\n", s)

    r = await session.call_tool("run_code", {"language": "python", "timeout_s": 1,
                                             "code": "print('started', flush=True)\nwhile True: pass"})
    s = structured(r)
    check("timeout", s.get("reason") == "timeout" and s.get("exit_code") is None
          and s.get("stdout") == "started\n" and s.get("duration_ms", 1e9) < 8000
          and "phantom" not in s.get("stderr", "x"), s)

    r = await session.call_tool("run_code", {"language": "python",
                                             "code": "import os; print('x', flush=True); os.kill(os.getpid(), 9)"})
    s = structured(r)
    check("signal", s.get("reason") == "signal" and s.get("signal") == 9 and s.get("exit_code") is None, s)

    started = time.monotonic()
    code = ("import sys\nw = sys.stdout.write\nw('HEAD' + 'a' * 996)\n"
            "chunk = 'b' * 100000\nfor _ in range(499): w(chunk)\nw('c' * 98996 + 'TAIL')\n")
    r = await session.call_tool("run_code", {"language": "python", "code": code, "timeout_s": 60})
    s = structured(r)
    out = s.get("stdout", "")
    check("50 MB output capped", s.get("truncated") is True and s.get("stdout_bytes") == 50_000_000
          and len(out) < 16 * 1024 + 200 and out.startswith("HEAD") and out.endswith("TAIL")
          and "bytes omitted" in out and s.get("exit_code") == 0,
          {k: (v if k != "stdout" else f"{len(v)} chars") for k, v in s.items()})
    print(f"     (50 MB run took {time.monotonic() - started:.2f} s end to end)")

    r = await session.call_tool("exec", {"command": ["sh", "-c", "echo \"$FOO\"; cat"],
                                         "env": {"FOO": "bar"}, "stdin": "in"})
    check("exec with env and stdin", structured(r).get("stdout") == "bar\nin", structured(r))

    r = await session.call_tool("exec", {"command": ["no-such-command-xyz"]})
    check("command not found is a tool error", is_error(r) and "no-such-command-xyz" in text(r), text(r))

    # Workspaces and files.
    r = await session.call_tool("create_workspace", {"name": "proj", "profile": "python"})
    ws = structured(r).get("workspace")
    check("create_workspace", ws == "proj" and not is_error(r), structured(r))
    r = await session.call_tool("create_workspace", {})
    ws2 = structured(r).get("workspace", "")
    check("create_workspace with a fresh id", ws2.startswith("ws-"), structured(r))
    r = await session.call_tool("create_workspace", {"name": "proj"})
    check("duplicate workspace name refused", is_error(r) and "exists" in text(r), text(r))

    app = "import sys\nprint(open('data.txt').read().strip() + '!')\n"
    r = await session.call_tool("write_file", {"workspace": ws, "path": "src/app.py", "content": app})
    check("write_file", structured(r).get("size") == len(app) and not is_error(r), structured(r))
    await session.call_tool("write_file", {"workspace": ws, "path": "data.txt", "content": "payload\n"})
    r = await session.call_tool("exec", {"command": ["python3", "src/app.py"], "workspace": ws})
    check("exec in workspace", structured(r).get("stdout") == "payload!\n", structured(r))
    r = await session.call_tool("run_code", {"language": "python", "workspace": ws,
                                             "code": "open('out.txt', 'w').write('written by a run')"})
    r = await session.call_tool("read_file", {"workspace": ws, "path": "out.txt"})
    check("read_file sees a run's file", structured(r).get("content") == "written by a run", structured(r))
    r = await session.call_tool("list_files", {"workspace": ws})
    entries = {e["name"]: e["type"] for e in structured(r).get("entries", [])}
    check("list_files", entries == {"data.txt": "file", "out.txt": "file", "src": "dir"}, entries)
    r = await session.call_tool("list_files", {"workspace": ws, "path": "src"})
    check("list_files subdir", [e["name"] for e in structured(r).get("entries", [])] == ["app.py"], structured(r))
    r = await session.call_tool("run_code", {"language": "go", "workspace": ws, "timeout_s": 120,
                                             "code": "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"go\", 1+1) }\n"})
    s = structured(r)
    check("run_code go", s.get("stdout") == "go 2\n" and s.get("exit_code") == 0, s)
    r = await session.call_tool("list_files", {"workspace": ws})
    check("go's scratch file removed", ".phantom-mcp" not in text(r), text(r))

    # Confinement.
    for bad in ["../escape.txt", "/etc/phantom-mcp-test", "a/../../b"]:
        r = await session.call_tool("write_file", {"workspace": ws, "path": bad, "content": "x"})
        check(f"write_file refuses {bad}", is_error(r) and "not a path inside" in text(r), text(r))
    r = await session.call_tool("read_file", {"workspace": ws, "path": "/etc/passwd"})
    check("read_file refuses an absolute path", is_error(r), text(r))
    await session.call_tool("run_code", {"language": "shell", "workspace": ws,
                                         "code": "ln -s /etc esc && ln -s /etc/passwd pw && ln -s .. up"})
    for name, args in [("read_file", {"path": "esc/passwd"}), ("read_file", {"path": "pw"}),
                       ("write_file", {"path": "esc/phantom-mcp-planted", "content": "x"}),
                       ("write_file", {"path": "up/planted", "content": "x"}),
                       ("list_files", {"path": "esc"})]:
        r = await session.call_tool(name, {"workspace": ws, **args})
        check(f"{name} {args['path']} refused (symlink escape)", is_error(r) and "root:" not in text(r), text(r))
    check("nothing planted on the host", not os.path.exists("/etc/phantom-mcp-planted"))
    r = await session.call_tool("write_file", {"workspace": ws, "path": "big", "content": "x" * (2 << 20)})
    check("write_file size cap", is_error(r) and "limit" in text(r), text(r)[:200])

    r = await session.call_tool("list_workspaces", {})
    listed = [w["workspace"] for w in structured(r).get("workspaces", [])]
    check("list_workspaces", sorted(listed) == sorted([ws, ws2]), listed)
    r = await session.call_tool("destroy_workspace", {"workspace": ws2})
    check("destroy_workspace", not is_error(r), text(r))
    r = await session.call_tool("read_file", {"workspace": ws2, "path": "x"})
    check("destroyed workspace unknown", is_error(r) and "no workspace" in text(r), text(r))

    # Concurrency: distinct outputs never mix.
    async def one(i):
        code = f"import time\nfor k in range(200): print('{i}-' + str(k))\ntime.sleep(0.3)\nprint('done {i}')"
        return i, await session.call_tool("run_code", {"language": "python", "code": code})
    started = time.monotonic()
    results = await asyncio.gather(*(one(i) for i in range(6)))
    elapsed = time.monotonic() - started
    good = all(structured(r).get("stdout") ==
               "".join(f"{i}-{k}\n" for k in range(200)) + f"done {i}\n" for i, r in results)
    check("6 parallel run_code, outputs separate", good, [structured(r).get("stdout", "")[:40] for _, r in results])
    print(f"     (6 parallel runs in {elapsed:.2f} s)")

    # Protocol errors.
    ok, msg = await expect_rpc_error(session, "no_such_tool", {}, "tool")
    check("unknown tool is a JSON-RPC error", ok, msg)
    # Arguments that do not fit the schema: rmcp 3.11 answers them as tool errors
    # (isError, so the model can correct itself), as the MCP spec now asks.
    r = await session.call_tool("run_code", {"language": "python"})
    check("missing argument is a clear tool error", is_error(r) and "missing field `code`" in text(r), text(r))
    r = await session.call_tool("exec", {"command": "ls"})
    check("wrong argument type is a clear tool error", is_error(r) and "expected a sequence" in text(r), text(r))
    r = await session.call_tool("list_files", {"workspace": "x", "bogus": 1})
    check("unknown argument is a clear tool error", is_error(r) and "unknown field `bogus`" in text(r), text(r))
    ok, msg = await expect_rpc_error(session, "run_code", {"language": "cobol", "code": "x"}, "unknown language")
    check("unknown language is a JSON-RPC error", ok, msg)
    ok, msg = await expect_rpc_error(session, "run_code", {"language": "python", "code": "1", "timeout_s": 9999}, "ceiling")
    check("timeout above the ceiling is a JSON-RPC error", ok, msg)
    # Past what a Duration holds: once a panic of the server's worker, and no answer.
    ok, msg = await expect_rpc_error(session, "run_code", {"language": "python", "code": "1", "timeout_s": 1e300}, "ceiling")
    check("a timeout past any duration is a JSON-RPC error", ok, msg)
    r = await session.call_tool("run_code", {"language": "python", "code": "print(1)\x00"})
    check("a NUL byte in the code is named as the input's fault", is_error(r) and "NUL byte" in text(r), text(r))

    # Latency: sequential cold python runs, end to end through the client.
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        r = await session.call_tool("run_code", {"language": "python", "code": "print(1)"})
        times.append((time.perf_counter() - t0) * 1000)
        if structured(r).get("stdout") != "1\n":
            check("latency run", False, structured(r))
            break
    print(f"     latency: run_code python print(1), cold, median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms over {len(times)} runs")


async def lifecycle():
    """A second server: zygote mode (parked sandboxes), idle expiry, cleanup on shutdown."""
    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "state")
        log_path = os.path.join(tmp, "server.log")
        params = StdioServerParameters(
            command=SERVER,
            args=EXTRA + ["--mode", "zygote", "--profiles", "python", "--idle-timeout", "1",
                          "--state-dir", state],
            env={"PHANTOM_ZYGOTE_POOL_SIZE": "3", "PHANTOM_PERFORMANCE_MODE": "balanced"},
        )
        with open(log_path, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    r = await session.call_tool("create_workspace", {"name": "short"})
                    check("workspace created", not is_error(r), text(r))
                    r = await session.call_tool("run_code", {"language": "python", "code": "print(2)"})
                    check("zygote mode runs", structured(r).get("stdout") == "2\n", structured(r))
                    # Back to back (a burst drains the pools, which refill while runs
                    # go on), then spaced as an agent's calls are (its model thinks
                    # between them; 0.1 s is far less than it takes).
                    for label, pause in (("back to back", 0.0), ("spaced 0.1 s", 0.1)):
                        times = []
                        for i in range(15):
                            await asyncio.sleep(pause)
                            t0 = time.perf_counter()
                            r = await session.call_tool("run_code", {"language": "python", "code": f"print({i})"})
                            times.append((time.perf_counter() - t0) * 1000)
                            check(f"zygote run {i} ({label})", structured(r).get("stdout") == f"{i}\n", structured(r))
                        print(f"     latency: run_code python print(i), zygote, {label}, median {statistics.median(times):.1f} ms, "
                              f"min {min(times):.1f} ms, max {max(times):.1f} ms over {len(times)} runs")
                    r = await session.call_tool("run_code", {"language": "python",
                                                             "code": "import os; open('/tmp/x','w').write('1'); print(os.path.exists('/tmp/y'))"})
                    r2 = await session.call_tool("run_code", {"language": "python",
                                                              "code": "import os; print(os.path.exists('/tmp/x'))"})
                    check("parked sandboxes are single use", structured(r2).get("stdout") == "False\n", structured(r2))
                    ok, msg = await expect_rpc_error(session, "run_code", {"language": "node", "code": "1"}, "runs python")
                    check("unserved language refused", ok, msg)
                    await asyncio.sleep(2.5)
                    r = await session.call_tool("list_workspaces", {})
                    check("idle workspace expired", structured(r).get("workspaces") == [], structured(r))
                    await session.call_tool("create_workspace", {"name": "left"})
                    check("state dir exists while serving", os.path.isdir(os.path.join(state, "workspaces", "left")))
        # stdio_client closes stdin and waits for the server to exit.
        for _ in range(50):
            if not os.path.exists(state):
                break
            await asyncio.sleep(0.1)
        check("workspaces removed on shutdown", not os.path.exists(state), os.listdir(tmp))
        log = open(log_path).read()
        check("startup line names the zygote server", "zygote (phantom serve on" in log
              and "PHANTOM_ZYGOTE_POOL_SIZE=3" in log and "PHANTOM_PERFORMANCE_MODE=balanced" in log, log)


async def main():
    params = StdioServerParameters(command=SERVER, args=EXTRA + ["--profiles", "python,node,go,shell",
                                                                 "--timeout", "20", "--max-timeout", "300"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await main_session(session)
    await lifecycle()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


asyncio.run(main())
