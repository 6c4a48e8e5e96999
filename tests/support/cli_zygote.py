"""The other end of tests/support/cli.py: imports the CLI once, then forks a child per command.

Protocol on its stdin and stdout, one JSON object or number a line: a request
``{"args", "env", "cwd", "stdin", "stdout", "stderr"}`` (the last three are file paths)
is answered with the child's pid, then with its exit code once it has ended.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import smsgate.cli  # the 1.2 s every command would otherwise spend importing


def _child(request: dict[str, object], protocol: tuple[int, int]) -> None:
    code = 1
    try:
        for fd in protocol:
            os.close(fd)
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        for fd, key, flags in (
            (0, "stdin", os.O_RDONLY),
            (1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            opened = os.open(str(request[key]), flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        args = request["args"]
        assert isinstance(args, list)
        sys.argv = ["smsgate", *args]
        smsgate.cli.main()
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                code = code or 120  # as the interpreter does when it cannot flush at exit
        os._exit(code)


def main() -> None:
    # The protocol gets descriptors of its own: 0 and 1 become each child's stdin and stdout.
    protocol = (os.dup(0), os.dup(1))
    requests = os.fdopen(protocol[0], "r")
    answers = os.fdopen(protocol[1], "w")
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, protocol)
        print(pid, file=answers, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), file=answers, flush=True)


if __name__ == "__main__":
    main()
