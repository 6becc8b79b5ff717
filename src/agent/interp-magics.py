# nestbox code-interpreter driver, part 3 of 5: IPython's magics and shell escapes.
#
# Notebook code written for E2B (by people and by models) starts with
# `%matplotlib inline`, installs with `!pip install` or `%pip install`, runs
# `!ls` and `files = !ls`, and writes files with `%%writefile`. A Jupyter kernel
# rewrites such lines into calls on get_ipython() before Python sees the cell; we
# do the same (with IPython's own transformer when the template has IPython, a
# small line-based one otherwise) and give the cell a get_ipython() that runs the
# common magics. get_ipython lives in the cell's globals only: libraries that ask
# IPython whether a shell runs (pandas, tqdm) keep hearing "no".
import re, shlex, subprocess, os, time

# A line that starts (after indentation) with % or !, or `name = !cmd` / `= %magic`.
_MAGIC_HINT = re.compile(r"^[ \t]*[%!]|^[^#\n]*=[ \t]*[%!][A-Za-z_]", re.M)


class UsageError(Exception):
    """IPython's error for an unknown or misused magic (same name and text)."""


class SList(list):
    """What `x = !cmd` gives in IPython: the output's lines, plus .s / .n / .l."""

    @property
    def s(self):
        return " ".join(self)

    @property
    def n(self):
        return "\n".join(self)

    @property
    def l(self):  # noqa: E743 (IPython's name)
        return list(self)


def _simple_transform(code):
    """Line-based rewriting for templates without IPython: whole-line magics and
    shell escapes, `x = !cmd`, and a %% cell magic on the first line."""
    lines = code.split("\n")
    first = lines[0].lstrip()
    if first.startswith("%%"):
        name, _, arg = first[2:].partition(" ")
        return "get_ipython().run_cell_magic(%r, %r, %r)\n" % (name, arg, "\n".join(lines[1:]))
    out = []
    for line in lines:
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        m = re.match(r"([A-Za-z_][\w, ]*?)\s*=\s*([!%])(.*)$", body)
        if m:
            target, kind, rest = m.groups()
            call = "getoutput(%r)" % rest if kind == "!" else "run_line_magic(%r, %r)" % tuple(
                (rest.split(None, 1) + [""])[:2])
            out.append("%s%s = get_ipython().%s" % (indent, target, call))
        elif body.startswith("!"):
            out.append("%sget_ipython().system(%r)" % (indent, body[1:]))
        elif body.startswith("%"):
            name, _, arg = body[1:].partition(" ")
            out.append("%sget_ipython().run_line_magic(%r, %r)" % (indent, name, arg))
        else:
            out.append(line)
    return "\n".join(out)


def transform_cell(code):
    if not _MAGIC_HINT.search(code):
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except Exception:
        return _simple_transform(code)
    return TransformerManager().transform_cell(code)


def _expand(line):
    """$name and {expression} in a magic or shell line, from the user's globals."""
    ns = NAMESPACE

    def brace(m):
        try:
            return str(eval(m.group(1), ns))
        except Exception:
            return m.group(0)

    def dollar(m):
        return str(ns[m.group(1)]) if m.group(1) in ns else m.group(0)

    line = re.sub(r"(?<!\{)\{([^{}]+)\}(?!\})", brace, line)
    return re.sub(r"(?<!\$)\$([A-Za-z_]\w*)", dollar, line)


class Shell:
    """The get_ipython() of a cell: the magics notebook code relies on."""

    def __init__(self):
        self.user_ns = NAMESPACE

    # -- shell escapes ---------------------------------------------------------
    def system(self, cmd):
        flush_all()
        r = subprocess.run(_expand(cmd), shell=True, executable="/bin/bash")
        NAMESPACE["_exit_code"] = r.returncode

    def getoutput(self, cmd, split=True):
        flush_all()
        r = subprocess.run(_expand(cmd), shell=True, executable="/bin/bash", stdout=subprocess.PIPE)
        NAMESPACE["_exit_code"] = r.returncode
        text = r.stdout.decode("utf-8", "replace")
        return SList(text.splitlines()) if split else text

    # -- magics ------------------------------------------------------------------
    def run_line_magic(self, name, line, _stack_depth=1):
        fn = getattr(self, "_line_" + name, None)
        if fn is None:
            raise UsageError("Line magic function `%%%s` not found." % name)
        return fn(_expand(line))

    def run_cell_magic(self, name, line, cell):
        fn = getattr(self, "_cell_" + name, None)
        if fn is None:
            raise UsageError("Cell magic `%%%%%s` not found." % name)
        return fn(_expand(line), cell)

    def _line_matplotlib(self, line):
        # Figures are shown inline already (interp-mpl.py); other backends make no
        # sense without a display.
        if line.strip() not in ("", "inline", "agg", "Agg"):
            print("Warning: only inline figures are shown here; '%s' is ignored" % line.strip(), file=sys.stderr)

    def _pip(self, tool, line):
        self.system("%s -m %s %s" % (shlex.quote(sys.executable), tool, line))
        print("Note: you may need to restart the kernel to use updated packages.")

    def _line_pip(self, line):
        self._pip("pip", line)

    def _line_cd(self, line):
        path = os.path.expanduser(line.strip().strip("'\"") or "~")
        os.chdir(path)
        print(os.getcwd())

    def _line_pwd(self, line):
        return os.getcwd()

    def _line_env(self, line):
        line = line.strip()
        if not line:
            return dict(os.environ)
        if "=" in line or " " in line:
            k, _, v = line.replace("=", " ", 1).partition(" ")
            os.environ[k.strip()] = v.strip()
            print("env: %s=%s" % (k.strip(), v.strip()))
            return None
        return os.environ.get(line)

    def _line_time(self, line):
        t0 = time.perf_counter()
        value = eval(compile(line, "<timed>", "eval"), NAMESPACE) if line.strip() else None
        print("Wall time: %.3g s" % (time.perf_counter() - t0))
        return value

    def _line_who(self, line):
        names = sorted(k for k, v in NAMESPACE.items() if not k.startswith("_") and not isinstance(v, type(os)))
        print("\t".join(names) if names else "Interactive namespace is empty.")

    def _line_load_ext(self, line):
        raise UsageError("extensions cannot be loaded in nestbox's interpreter: %s" % line.strip())

    def _cell_writefile(self, line, cell):
        args = shlex.split(line)
        append = "-a" in args or "--append" in args
        path = [a for a in args if not a.startswith("-")]
        if not path:
            raise UsageError("%%writefile needs a file name")
        exists = os.path.exists(path[0])
        with open(path[0], "a" if append else "w") as f:
            f.write(cell)
        print("%s %s" % ("Appending to" if append else "Overwriting" if exists else "Writing", path[0]))

    def _script(self, program, cell):
        flush_all()
        r = subprocess.run([program], input=cell.encode(), stdout=None, stderr=None)
        NAMESPACE["_exit_code"] = r.returncode

    def _cell_bash(self, line, cell):
        self._script("/bin/bash", cell)

    def _cell_sh(self, line, cell):
        self._script("/bin/sh", cell)

    def _cell_script(self, line, cell):
        args = shlex.split(line)
        if not args:
            raise UsageError("%%script needs a program, e.g. %%script bash")
        self._script(args[0], cell)

    def _cell_time(self, line, cell):
        t0 = time.perf_counter()
        exec(compile(cell, "<timed>", "exec"), NAMESPACE)
        print("Wall time: %.3g s" % (time.perf_counter() - t0))

    def _cell_capture(self, line, cell):
        raise UsageError("%%capture is not supported by nestbox's interpreter")

    def _cell_html(self, line, cell):
        publish({"text/html": cell, "text/plain": "<IPython.core.display.HTML object>"}, False)

    def _cell_markdown(self, line, cell):
        publish({"text/markdown": cell, "text/plain": "<IPython.core.display.Markdown object>"}, False)


def install_shell(ns):
    shell = Shell()
    ns["get_ipython"] = lambda: shell
