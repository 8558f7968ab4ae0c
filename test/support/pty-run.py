"""Runs a command in a pseudo-terminal, for tests that drive a terminal program.

Usage: pty-run.py COLUMNS ROWS COMMAND [ARG...]

The command gets a new session whose controlling terminal is the pty's
slave side (COLUMNS x ROWS), so it sees a real terminal on stdin, stdout
and stderr. What this process reads on stdin is typed into the terminal;
what the command writes to the terminal comes out on this process's
stdout, byte for byte (escape sequences included). This process exits with
the command's exit code (128 + N when a signal N ended it). SIGTERM to this
process ends the command too.

Only the standard library: every machine that runs the tests has Python.
"""

import errno
import fcntl
import os
import select
import signal
import struct
import sys
import termios


def main() -> int:
    columns, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    master, slave = os.openpty()
    # Size the terminal before the command starts, so it never sees 0x0.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, f"pty-run: cannot run {argv[0]}: {e}\n".encode())
        os._exit(127)
    os.close(slave)

    def stop(_signum, _frame):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, stop)
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    watching = [master, stdin]
    while True:
        try:
            ready, _, _ = select.select(watching, [], [])
        except InterruptedError:
            continue
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError as e:
                # EIO: the command closed the terminal (it exited).
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break
            os.write(stdout, data)
        if stdin in ready:
            data = os.read(stdin, 65536)
            if data:
                os.write(master, data)
            else:
                watching.remove(stdin)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
