# The warm interpreter of a parked Python sandbox (`phantom serve`; see zygote.rs).
#
# Started inside the sandbox with everything of a workload's hardening but Landlock
# (rlimits, descriptors closed, no capabilities, no_new_privs, the seccomp filter), it
# imports common modules and waits. It runs only this trusted code until a run comes:
# then it takes the run's stdio, adds the Landlock rules of the workspace just bound
# (rules name inodes, so they could not be made before) and enforces the ruleset, and
# only then runs the user's code, as `python3 -c CODE ARGS` or `python3 FILE ARGS` would.
#
# argv: CONTROL_FD RULESET_FD REPORT_FD [ACCESS_MASK ...], one mask per deferred path
# (0 where the path has no rule of its own).
# The run arrives on CONTROL_FD (SOCK_SEQPACKET) as one message: JSON
# {"argv": [...], "env": ["K=V", ...], "cwd": "..."} with the descriptors stdin,
# stdout, stderr and one O_PATH directory per deferred rule, in order.

import sys


def _phantom_main():
    import os

    control_fd, ruleset_fd, report_fd = (int(a) for a in sys.argv[1:4])
    masks = [int(a) for a in sys.argv[4:]]

    def fail(message, code=125):
        try:
            os.write(report_fd, ("E %d %s\n" % (code, message)).encode())
        finally:
            os._exit(code)

    try:
        import ctypes
        import json
        import random
        import socket
        import types
        import builtins
    except BaseException as e:  # noqa: BLE001 - any failure ends the sandbox
        fail("the warm interpreter could not start: %r" % (e,))

    # What a warm interpreter is for: these are imported already when the code runs.
    # Few, and cheap ones: every parked interpreter pays for them again (a new
    # interpreter per run), and pathlib, subprocess, typing and dataclasses together
    # would double the CPU a refill takes here.
    for name in ("collections", "datetime", "functools", "itertools", "math", "re", "time"):
        try:
            __import__(name)
        except ImportError:
            pass

    # Everything Landlock needs, ready before the run comes.
    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    long = ctypes.c_long

    control = socket.socket(fileno=control_fd)
    try:
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 3 + len(masks))
    except OSError as e:
        fail("receiving the run: %s" % (e,))
    if not data:
        os._exit(0)  # the sandbox was dropped unused
    control.close()
    if len(fds) != 3 + len(masks):
        fail("the run came with %d descriptors, not %d" % (len(fds), 3 + len(masks)))
    stdio, rule_fds = fds[:3], fds[3:]

    # Landlock, completed with the workspace's rules, before anything of the user's.
    if ruleset_fd >= 0:
        for fd, mask in zip(rule_fds, masks):
            if not mask:
                continue
            rule = PathBeneath(mask, fd)
            # landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0)
            if syscall(long(445), long(ruleset_fd), long(1), ctypes.byref(rule), long(0)) != 0:
                fail("Landlock: adding the workspace's rule: %s" % os.strerror(ctypes.get_errno()))
        # landlock_restrict_self(ruleset, 0)
        if syscall(long(446), long(ruleset_fd), long(0)) != 0:
            fail("Landlock: %s" % os.strerror(ctypes.get_errno()))
        os.close(ruleset_fd)
    for fd in rule_fds:
        os.close(fd)

    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
        if fd > 2:
            os.close(fd)

    try:
        run = json.loads(data)
        argv, env, cwd = run["argv"], run["env"], run["cwd"]
    except (ValueError, KeyError) as e:
        fail("a malformed run: %r" % (e,))
    try:
        os.chdir(cwd)
    except OSError as e:
        fail("entering the working directory `%s`: %s" % (cwd, e))
    os.environ.clear()
    for item in env:
        key, _, value = item.partition("=")
        os.environ[key] = value

    # This interpreter was started for this run alone, so its hash seed and os.urandom
    # are its own; `random` is seeded again all the same, from os.urandom.
    random.seed()
    sys.stdout.reconfigure(line_buffering=os.isatty(1))

    if len(argv) >= 3 and argv[1] == "-c":
        filename, source = "<string>", argv[2]
        sys.argv = ["-c"] + argv[3:]
        sys.path[0] = ""
        main_file = None
    elif len(argv) >= 2:
        path = argv[1]
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError as e:
            os.close(report_fd)
            sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n" % (argv[0], path, e.errno, e.strerror))
            sys.stderr.flush()
            os._exit(2)
        filename = path
        sys.argv = argv[1:]
        sys.path[0] = os.path.dirname(os.path.abspath(path))
        main_file = path
    else:
        fail("nothing to run")
    sys.orig_argv = list(argv)
    os.close(report_fd)

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    if main_file is not None:
        main.__dict__["__file__"] = main_file
    sys.modules["__main__"] = main
    status = 0
    try:
        code = compile(source, filename, "exec")
        exec(code, main.__dict__)
    except SystemExit as e:
        status = _exit_status(e)
    except BaseException as e:  # noqa: BLE001 - reported as the interpreter would
        # The frame of this function is not the user's.
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        if isinstance(e, KeyboardInterrupt):
            # As the interpreter does: end by SIGINT itself.
            import signal

            _finish(exit=False)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        status = 1
    _finish(status)


def _exit_status(e):
    # As the interpreter reads SystemExit: None is 0, an int is itself, anything else
    # is printed and is 1.
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        sys.stderr.write(str(e.code) + "\n")
    except Exception:  # noqa: BLE001
        pass
    return 1


def _finish(status=0, exit=True):
    # What the interpreter's shutdown does that a program can see (wait for its
    # threads, run atexit functions, flush stdout and stderr), then exit at once: the
    # teardown of a warm interpreter's many modules would cost milliseconds and shows
    # nothing. A failed flush (a closed pipe) ends with 120, as the interpreter does.
    import threading
    import atexit

    try:
        threading._shutdown()
    except BaseException:  # noqa: BLE001
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            status = 120
    if exit:
        import os

        os._exit(status)


_phantom_main()
