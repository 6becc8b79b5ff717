# nestbox code-interpreter driver: one long-lived python3 per context, started by
# the agent as `python3 -u -c <this source>` (embedded in the agent at build time).
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
import ast, base64, builtins, codecs, datetime, json, linecache, os, queue, select, signal, sys, threading, time, traceback, types

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
    data = (json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode("utf-8", "replace")
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


# --- rich results ------------------------------------------------------------

REPR_METHODS = (
    ("_repr_html_", "html"),
    ("_repr_markdown_", "markdown"),
    ("_repr_svg_", "svg"),
    ("_repr_png_", "png"),
    ("_repr_jpeg_", "jpeg"),
    ("_repr_pdf_", "pdf"),
    ("_repr_latex_", "latex"),
    ("_repr_json_", "json"),
    ("_repr_javascript_", "javascript"),
)
MIME_KEYS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
    "e2b/data": "data",
    "e2b/chart": "chart",
}
BINARY_KEYS = ("png", "jpeg", "pdf")


def _store(out, key, value):
    if value is None:
        return
    if isinstance(value, tuple) and len(value) == 2:  # (data, metadata)
        value = value[0]
        if value is None:
            return
    if key in BINARY_KEYS and isinstance(value, (bytes, bytearray)):
        value = base64.b64encode(bytes(value)).decode("ascii")
    elif key == "json" and isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return
    out[key] = value


def format_value(value):
    out = {}
    is_class = isinstance(value, type)
    if not is_class:
        bundle = getattr(value, "_repr_mimebundle_", None)
        if callable(bundle):
            try:
                data = bundle()
                if isinstance(data, tuple):
                    data = data[0]
                for mime, v in (data or {}).items():
                    key = MIME_KEYS.get(mime, mime)
                    _store(out, key, v)
            except Exception:
                pass
        for meth, key in REPR_METHODS:
            if key in out:
                continue
            f = getattr(value, meth, None)
            if not callable(f):
                continue
            try:
                _store(out, key, f())
            except Exception:
                pass
    if "text" not in out:
        try:
            out["text"] = repr(value)
        except Exception as e:
            out["text"] = "<repr failed: %s: %s>" % (type(e).__name__, e)
    text = out["text"]
    # E2B's server strips one pair of surrounding quotes from text/plain.
    if isinstance(text, str) and len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        out["text"] = text[1:-1]
    return out


def display(*objs, **kwargs):
    """IPython's display(): each object becomes a result that is not the main one."""
    for obj in objs:
        flush_all()
        res = {"type": "result", "is_main_result": False}
        res.update(format_value(obj))
        emit(res)


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


def user_traceback(exc):
    # Drop the driver's frames (and ast.parse's for a SyntaxError): the user's
    # traceback starts at the cell.
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell-"):
        tb = tb.tb_next
    exc.__traceback__ = tb
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run_cell(code, filename):
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    State.executing = True
    try:
        if tree.body:
            exec(compile(tree, filename, "exec"), NAMESPACE)
        value = eval(compile(last, filename, "eval"), NAMESPACE) if last is not None else None
    finally:
        State.executing = False
    return last is not None, value


def execute(req):
    State.count += 1
    emit({"type": "number_of_executions", "execution_count": State.count})
    code = req.get("code") or ""
    filename = "<cell-%d>" % State.count
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    saved = {}
    try:
        for k, v in (req.get("env_vars") or {}).items():
            saved[k] = os.environ.get(k)
            os.environ[k] = str(v)  # a bad name raises here: an error of this run
        has_value, value = run_cell(code, filename)
        flush_all()
        if has_value and value is not None:
            NAMESPACE["_"] = value
            res = {"type": "result", "is_main_result": True}
            res.update(format_value(value))
            emit(res)
    except BaseException as e:  # KeyboardInterrupt and SystemExit too, as Jupyter reports them
        State.executing = False
        State.pending = False
        flush_all()
        emit({"type": "error", "name": type(e).__name__, "value": str(e), "traceback": user_traceback(e)})
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
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
