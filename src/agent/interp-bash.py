# nestbox code-interpreter driver, part 4 of 5: bash cells (runCode(code,
# {language: 'bash'})), used when the agent starts the driver as
# `python3 -u -c <driver> bash` (see interp-display.py for how parts are joined).
#
# A bash context is one long-lived bash reading cells on its stdin, so variables,
# functions and the working directory carry over from cell to cell as in Jupyter's
# bash kernel. Its fds 1 and 2 are the driver's capture pipes (output streams like
# a Python cell's). After each cell bash writes its exit status to a pipe of ours;
# a non-zero status is an error with an empty name and the status as its value,
# which is what Jupyter's bash kernel sends. An interrupt kills what runs; bash
# dies with it and the next cell starts a fresh one.
import shlex, signal, subprocess, os


class BashSession:
    def __init__(self):
        self.proc = None
        self.status_r = None

    def _start(self):
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ["/bin/bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            pass_fds=(w,),
            start_new_session=True,  # its own process group: an interrupt reaches what it runs
        )
        os.close(w)
        self.status_w = w
        self.status_r = os.fdopen(r, "rb", buffering=0)

    def _alive(self):
        return self.proc is not None and self.proc.poll() is None

    def run(self, code, env_vars):
        if not self._alive():
            self._start()
        lines = ["export %s=%s" % (k, shlex.quote(str(v))) for k, v in env_vars.items()
                 if k.isidentifier()]
        lines.append(code)
        # On a line of its own, so a cell without a final newline still ends.
        lines.append("printf '%%s\\n' \"$?\" >&%d" % self.status_w)
        lines += ["unset %s" % k for k in env_vars if k.isidentifier()]
        try:
            self.proc.stdin.write(("\n".join(lines) + "\n").encode())
            self.proc.stdin.flush()
            status = b""
            while not status.endswith(b"\n"):
                chunk = self.status_r.read(64)
                if not chunk:  # bash exited (`exit` in the cell, or killed)
                    self.proc.wait()
                    return self.proc.returncode if self.proc.returncode >= 0 else 128 - self.proc.returncode
                status += chunk
            return int(status.strip() or b"0")
        except KeyboardInterrupt:
            self.interrupt()
            raise

    def interrupt(self):
        if self._alive():
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=2)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class BashCellFailed(Exception):
    """A cell whose last command exited non-zero: reported as Jupyter's bash kernel does."""

    def __init__(self, status):
        super().__init__(str(status))
        self.status = status


BASH = BashSession()


def run_bash_cell(code, env_vars):
    status = BASH.run(code, env_vars)
    flush_all()
    if status != 0:
        raise BashCellFailed(status)
