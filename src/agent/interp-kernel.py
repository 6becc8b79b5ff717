# nestbox code-interpreter driver, part 5 of 5: the process and its loop (see
# interp-display.py for how the parts are joined). One long-lived python3 per
# context, started by the agent as `python3 -u -c <the joined source>`.
#
# Protocol with the agent (src/agent/interp-kernel.c):
#   stdin  (agent -> driver): one JSON object per line, {"code": str, "env_vars": {k: v}}
#   stdout (driver -> agent): one JSON object per line, already in the NDJSON shape
#          of POST /execute (protocol.md 5.2): number_of_executions, stdout, stderr,
#          result, error, end_of_execution; plus {"type": "ready"} once at start.
#   stderr: the driver's own diagnostics (kept by the agent for error messages).
#   SIGINT during an execution raises KeyboardInterrupt in the user's code.
# The driver moves those three fds out of the way at start: user code sees stdin
# /dev/null, and fds 1 and 2 are pipes read back here, so output of subprocesses
# and C code is captured like Python-level prints.
import ast, builtins, codecs, datetime, json, linecache, os, queue, select, signal, sys, threading, time, traceback, types

FLUSH_SECONDS = 0.05


def _private(fd):
    return os.dup(fd)  # non-inheritable since Python 3.4 (PEP 446)


CMD_FD = _private(0)
EV_FD = _private(1)
DIAG_FD = _private(2)
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
os.close(_devnull)

_lock = threading.RLock()
# Larger outputs go out in several stdout/stderr lines (the agent caps a line).
MAX_TEXT = 1 << 20


class State:
    executing = False  # a cell runs: SIGINT raises KeyboardInterrupt
    emitting = False   # the main thread is writing an event line
    pending = False    # SIGINT arrived while emitting
    count = 0


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def emit(obj):
    emit_bytes(dumps_line(obj))


def emit_bytes(data):
    main = threading.current_thread() is threading.main_thread()
    with _lock:
        # An interrupt must not cut a line in half (the agent would lose it): the
        # SIGINT handler defers to the end of the write.
        if main:
            State.emitting = True
        try:
            view = memoryview(data)
            while view:
                n = os.write(EV_FD, view)
                view = view[n:]
        finally:
            if main:
                State.emitting = False
    if main and State.pending and State.executing:
        State.pending = False
        raise KeyboardInterrupt


class OutStream:
    """sys.stdout / sys.stderr: text batched the way ipykernel does (a line at once,
    partial lines after FLUSH_SECONDS), flushed before the other stream writes so the
    client sees the order the program wrote in."""

    def __init__(self, name):
        self.name = name
        self.buf = []
        self.since = 0.0
        self.last_flush = 0.0
        self.other = None
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if not s:
            return 0
        with _lock:
            # What a finished subprocess wrote to fd 1/2 came first.
            drain_captures()
            if self.other.buf:
                self.other.flush()
            if not self.buf:
                self.since = time.monotonic()
            self.buf.append(s)
            if "\n" in s and time.monotonic() - self.last_flush >= FLUSH_SECONDS:
                self.flush()
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        with _lock:
            if not self.buf:
                return
            text = "".join(self.buf)
            self.buf = []
            self.last_flush = time.monotonic()
            for i in range(0, len(text), MAX_TEXT):
                emit({"type": self.name, "text": text[i:i + MAX_TEXT], "timestamp": _now()})

    def flush_if_old(self):
        with _lock:
            if self.buf and time.monotonic() - self.since >= FLUSH_SECONDS:
                self.flush()

    def isatty(self):
        return False

    @property
    def buffer(self):
        return _BytesWriter(self)

    def writable(self):
        return True

    def readable(self):
        return False

    def fileno(self):
        return 1 if self.name == "stdout" else 2


class _BytesWriter:
    def __init__(self, stream):
        self.stream = stream

    def write(self, b):
        self.stream.write(bytes(b).decode("utf-8", "replace"))
        return len(b)

    def flush(self):
        self.stream.flush()


STDOUT = OutStream("stdout")
STDERR = OutStream("stderr")
STDOUT.other, STDERR.other = STDERR, STDOUT


class FdCapture:
    """fd 1 or 2 of the driver: a pipe whose bytes join the matching OutStream."""

    def __init__(self, fd, stream):
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        os.set_blocking(r, False)
        self.r = r
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        threading.Thread(target=self.run, daemon=True).start()

    def drain(self):
        """Moves what is readable now into the stream; the caller holds _lock."""
        while True:
            try:
                data = os.read(self.r, 65536)
            except BlockingIOError:
                return
            if not data:
                return
            text = self.decoder.decode(data)
            if text:
                self.stream.write(text)

    def run(self):
        while True:
            select.select([self.r], [], [])
            with _lock:
                drain_captures()


_draining = [False]


def drain_captures():
    """Moves bytes waiting in the fd 1/2 pipes into the streams; holds _lock."""
    if _draining[0]:
        return
    _draining[0] = True
    try:
        for c in CAPTURES:
            c.drain()
    finally:
        _draining[0] = False


def flusher():
    while True:
        time.sleep(FLUSH_SECONDS)
        STDOUT.flush_if_old()
        STDERR.flush_if_old()


CAPTURES = []
CAPTURES += [FdCapture(1, STDOUT), FdCapture(2, STDERR)]
sys.stdout, sys.stderr = STDOUT, STDERR
threading.Thread(target=flusher, daemon=True).start()


def flush_all():
    with _lock:
        drain_captures()
        STDOUT.flush()
        STDERR.flush()


# --- execution -----------------------------------------------------------------


def on_sigint(signum, frame):
    # An interrupt between executions (it raced with the end) must not kill the driver.
    if not State.executing:
        return
    if State.emitting:
        State.pending = True
        return
    raise KeyboardInterrupt


signal.signal(signal.SIGINT, on_sigint)

# The user's globals live in a fresh __main__ module (pickle and friends look
# there); the driver keeps its own globals, the -c module's dict.
_main = types.ModuleType("__main__")
sys.modules["__main__"] = _main
NAMESPACE = _main.__dict__
NAMESPACE["__builtins__"] = builtins
NAMESPACE["display"] = display
install_shell(NAMESPACE)
# The filename of the driver's own code (python3 -c).
DRIVER_FILENAME = sys._getframe().f_code.co_filename
install_import_hooks()


def user_traceback(exc):
    # Drop the driver's frames (and ast.parse's for a SyntaxError): the user's
    # traceback starts at the cell. An error raised outside any cell frame (a
    # formatter, a figure being drawn) starts at the first frame not the driver's.
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell-"):
        tb = tb.tb_next
    if tb is None and not isinstance(exc, SyntaxError):
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == DRIVER_FILENAME:
            tb = tb.tb_next
    exc.__traceback__ = tb
    return "".join(traceback.format_exception(type(exc), exc, tb))


def report_exception(e):
    """An error line for e, as IPython's showtraceback sends one."""
    flush_all()
    if isinstance(e, BashCellFailed):
        emit({"type": "error", "name": "", "value": str(e.status), "traceback": ""})
        return
    emit({"type": "error", "name": type(e).__name__, "value": str(e), "traceback": user_traceback(e)})


# Top-level await, as in IPython (E2B's kernel): a cell part that awaits compiles to a
# coroutine, run to its end on one event loop per context, kept between cells so that
# what is bound to it (queues, client sessions) goes on working in the next cell.
CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect at start
_loop = None


def run_code(code):
    global _loop
    value = eval(code, NAMESPACE)
    if code.co_flags & CO_COROUTINE:
        if _loop is None:
            import asyncio
            _loop = asyncio.new_event_loop()
            asyncio.set_event_loop(_loop)
        value = _loop.run_until_complete(value)
    return value


def run_cell(code, filename):
    tree = ast.parse(transform_cell(code), filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    State.executing = True
    try:
        if tree.body:
            run_code(compile(tree, filename, "exec", flags=flags))
        value = run_code(compile(last, filename, "eval", flags=flags)) if last is not None else None
    finally:
        State.executing = False
    return last is not None, value


def post_execute():
    """What IPython runs after every cell, error or not: matplotlib's figures."""
    State.executing = True  # an interrupt ends a long drawing
    try:
        flush_figures()
    except BaseException as e:
        State.pending = False
        report_exception(e)
    finally:
        State.executing = False


class _CellDone(Exception):
    """A bash cell ran: skip what only Python cells have (their value)."""


# `python3 -c <driver> bash`: the cells are bash (interp-bash.py), not Python.
BASH_CELLS = sys.argv[1:2] == ["bash"]


def execute(req):
    State.count += 1
    emit({"type": "number_of_executions", "execution_count": State.count})
    code = req.get("code") or ""
    filename = "<cell-%d>" % State.count
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    saved = {}
    try:
        if BASH_CELLS:
            State.executing = True
            try:
                run_bash_cell(code, req.get("env_vars") or {})
            finally:
                State.executing = False
            raise _CellDone
        for k, v in (req.get("env_vars") or {}).items():
            saved[k] = os.environ.get(k)
            os.environ[k] = str(v)  # a bad name raises here: an error of this run
        has_value, value = run_cell(code, filename)
        flush_all()
        # The value of the last expression, unless None or the cell ends with ';'.
        if has_value and value is not None and not semicolon_at_end(code):
            NAMESPACE["_"] = value
            State.executing = True  # formatting a huge value can be interrupted too
            try:
                bundle = mime_bundle(value)
                if bundle:
                    publish(bundle, True)
            finally:
                State.executing = False
    except _CellDone:
        pass
    except BaseException as e:  # KeyboardInterrupt and SystemExit too, as Jupyter reports them
        State.executing = False
        State.pending = False
        report_exception(e)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    post_execute()
    flush_all()
    emit({"type": "end_of_execution"})


def read_commands(q):
    with os.fdopen(CMD_FD, "rb", buffering=0) as f:
        buf = b""
        while True:
            data = f.read(65536)
            if not data:
                # The agent went away: finish what was asked, then leave.
                q.put(None)
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                q.put(line)


def main():
    q = queue.Queue()
    threading.Thread(target=read_commands, args=(q,), daemon=True).start()
    emit({"type": "ready", "pid": os.getpid()})
    while True:
        try:
            line = q.get()
            if line is None:
                os._exit(0)
            req = json.loads(line)
        except KeyboardInterrupt:
            continue
        except ValueError as e:
            os.write(DIAG_FD, ("bad command: %s\n" % e).encode())
            continue
        try:
            execute(req)
        except KeyboardInterrupt:
            # Raced past the handler's guard at the very end; the cell is over anyway.
            flush_all()
            emit({"type": "end_of_execution"})


main()
