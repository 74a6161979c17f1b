"""What the end-to-end tests share: where the build is, one checked assertion, and
`routerd dev` started on free ports."""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUTERD = os.path.join(ROOT, ".build", "debug", "routerd")


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}")


def start_routerd(data, web):
    """Starts `routerd dev` with its data in `data` and static files from `web`; returns the
    process and the gateway's HOST:PORT once it listens."""
    process = subprocess.Popen([ROUTERD, "dev", "--http", "127.0.0.1:0", "--wire", "127.0.0.1:0", "--data", data, "--web", web],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for line in process.stdout:
        match = re.search(r'msg="gateway listening" http=http://([0-9.]+:[0-9]+)', line)
        if match:
            return process, match.group(1)
    raise AssertionError("routerd dev did not start")
