"""Stands in for `ssh` in fault tests: runs the remote command here.

Its last argument is the command ssh would run on the other side. With
ASR_TEST_PIDFILE it writes the pid of that command (it becomes it, by
exec), so a test can kill the sender. With ASR_TEST_MANGLE=cut:N or flip:N
it runs the command as a child and passes its output on, cut after N bytes
or with byte N flipped: a pack damaged in flight.
"""

import os
import subprocess
import sys

command = sys.argv[-1]
mangle = os.environ.get("ASR_TEST_MANGLE")
if not mangle:
    pidfile = os.environ.get("ASR_TEST_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
    os.execvp("sh", ["sh", "-c", "exec " + command])

how, at = mangle.split(":")
at = int(at)
child = subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE)
out = sys.stdout.buffer
done = 0
while True:
    chunk = child.stdout.read1(1 << 16)
    if not chunk:
        break
    if done <= at < done + len(chunk):
        if how == "cut":
            out.write(chunk[: at - done])
            out.flush()
            child.kill()
            sys.exit(0)
        chunk = bytearray(chunk)
        chunk[at - done] ^= 0x01
        chunk = bytes(chunk)
    out.write(chunk)
    out.flush()
    done += len(chunk)
sys.exit(child.wait())
