# nestbox code-interpreter driver, part 1 of 5: rich results.
#
# interp-embed.py joins interp-display.py, interp-mpl.py, interp-magics.py,
# interp-bash.py and interp-kernel.py, in that order, into the one script the
# agent runs as `python3 -u -c`; the parts share one namespace. The first four
# only define names (no side effect at import); interp-kernel.py sets the process
# up and runs the loop.
#
# What a Jupyter kernel behind E2B's server makes of a value, without IPython in
# the loop: each value shown (the cell's last expression, display(), plt.show(),
# figures left open at the end of a cell) becomes one /execute "result" line with
# the fields of E2B's Result model (template/server/api/models/result.py):
#   - IPython's formatters in their order (text/plain first, then html, markdown,
#     svg, png, pdf, jpeg, latex, json, javascript), each from a `_repr_*_`
#     method, from `_repr_mimebundle_`, or from a printer for a type (matplotlib
#     figures -> png);
#   - E2B's own formatters (its template's startup_scripts/0002_data.py):
#     "e2b/data" for pandas DataFrames, "e2b/chart" for matplotlib figures, and
#     application/json for lists and dicts;
#   - MIME types E2B has no field for go under "extra".
# text/plain is IPython's pretty printer when IPython is installed (it breaks long
# containers over lines, as E2B's text shows them) and repr() otherwise.
import base64, datetime, importlib.abc, importlib.util, io, json, math, numbers, sys, tokenize, warnings

# MIME type -> E2B field, in the order of E2B's Result model (the order of the keys
# of a result line).
RESULT_FIELDS = (
    ("text/plain", "text"),
    ("text/html", "html"),
    ("text/markdown", "markdown"),
    ("image/svg+xml", "svg"),
    ("image/png", "png"),
    ("image/jpeg", "jpeg"),
    ("application/pdf", "pdf"),
    ("text/latex", "latex"),
    ("application/json", "json"),
    ("application/javascript", "javascript"),
    ("e2b/data", "data"),
    ("e2b/chart", "chart"),
)

# IPython's DisplayFormatter order, E2B's two at the end: (MIME type, method, the
# types a formatter may return). png comes before chart on purpose: drawing the
# figure fills in the tick labels the chart reports.
FORMATTERS = (
    ("text/plain", None, (str,)),
    ("text/html", "_repr_html_", (str,)),
    ("text/markdown", "_repr_markdown_", (str,)),
    ("image/svg+xml", "_repr_svg_", (str,)),
    ("image/png", "_repr_png_", (bytes, str)),
    ("application/pdf", "_repr_pdf_", (bytes, str)),
    ("image/jpeg", "_repr_jpeg_", (bytes, str)),
    ("text/latex", "_repr_latex_", (str,)),
    ("application/json", "_repr_json_", (list, dict)),
    ("application/javascript", "_repr_javascript_", (str,)),
    ("e2b/data", "_repr_e2b_data_", (dict, str)),
    ("e2b/chart", "_repr_e2b_chart_", (dict, str)),
)
BINARY_MIMES = ("image/png", "image/jpeg", "application/pdf")

# The agent drops a driver whose line passes 16 MiB (INTERP_LINE_MAX in
# interp-kernel.c); a result never gets that close.
RESULT_LINE_MAX = 15 << 20

# Types whose repr() is what IPython's pretty printer prints: no import for them.
_REPR_IS_PRETTY = (int, float, bool, type(None), str, bytes, complex)


class FormatterWarning(UserWarning):
    """A formatter returned a type its MIME type cannot hold (IPython's name)."""


def _real_method(obj, name):
    """obj.name if it is a method of an instance; None for classes and for objects
    that answer every attribute (IPython's get_real_method and its canary)."""
    if isinstance(obj, type):
        return None
    try:
        if getattr(obj, "_ipython_canary_method_should_not_exist_", None) is not None:
            return None
        m = getattr(obj, name, None)
    except Exception:
        return None
    return m if callable(m) else None


_pretty = [None]


def _ipython_pretty():
    """IPython.lib.pretty.pretty, imported on first use (about 0.3 s), or None."""
    if _pretty[0] is None:
        try:
            from IPython.lib.pretty import pretty
            _pretty[0] = pretty
        except Exception:
            _pretty[0] = False
    return _pretty[0] or None


def _repr_decides(cls):
    """True when IPython's pretty printer prints instances of cls with plain repr():
    walking the MRO as it does, the first class that decides defines __repr__
    (DataFrame, ndarray...). Classes of the standard library and builtins, which
    IPython has printers for, and _repr_pretty_ leave it to IPython."""
    for c in cls.__mro__:
        if c is object or c.__module__ in ("builtins", "collections", "re", "types", "datetime"):
            return False
        if "_repr_pretty_" in c.__dict__:
            return False
        if "__repr__" in c.__dict__:
            return True
    return False


def _short_literal(obj, depth=0):
    """Lists, tuples and dicts of scalars: IPython prints them as repr() does as
    long as they fit on a line (sets it sorts, so they are not here)."""
    t = type(obj)
    if t in _REPR_IS_PRETTY:
        return True
    if depth > 3 or t not in (list, tuple, dict) or len(obj) > 32:
        return False
    if t is dict:
        return all(type(k) in _REPR_IS_PRETTY and _short_literal(v, depth + 1) for k, v in obj.items())
    return all(_short_literal(x, depth + 1) for x in obj)


def _plain_text(obj):
    # The shortcuts give what IPython would, without importing it (0.3 s).
    if type(obj) in _REPR_IS_PRETTY:
        return repr(obj)
    if _repr_decides(type(obj)):
        return "\n".join(repr(obj).splitlines())
    if _short_literal(obj):
        text = repr(obj)
        if len(text) < 70:
            return text
    pretty = _ipython_pretty()
    if pretty is None:
        return repr(obj)
    # E2B's kernel config: PlainTextFormatter.max_seq_length = 0 (never "...").
    return pretty(obj, max_seq_length=0)


# --- JSON as E2B's application/json formatter makes it (orjson with
# OPT_SERIALIZE_NUMPY | OPT_NON_STR_KEYS): TypeError when orjson would refuse.

def _orjson_key(k):
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, (int, float)):
        return repr(k) if isinstance(k, float) else str(int(k))
    if isinstance(k, (datetime.date, datetime.time)):
        return k.isoformat()
    raise TypeError("dict key must be str")


def _orjson_value(v, depth=0):
    if depth > 254:
        raise TypeError("recursion limit reached")
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 64):
            raise TypeError("integer exceeds 64-bit range")
        return int(v)
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, dict):
        return {_orjson_key(k): _orjson_value(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_orjson_value(x, depth + 1) for x in v]
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in "biufM":
                raise TypeError("unsupported numpy array dtype")
            return _orjson_value(v.tolist(), depth + 1)
        if isinstance(v, np.generic):
            return _orjson_value(v.item(), depth + 1)
    raise TypeError("type is not JSON serializable: %s" % type(v).__name__)


# --- JSON as a Jupyter kernel sends a message (jupyter_client's json_packer): try
# json.dumps with its default(); if that fails (NaN, a key collision...), clean the
# whole message first (NaN and infinities become the strings "nan", "inf").

def _json_default(obj):
    if isinstance(obj, datetime.datetime):
        if obj.tzinfo is None:
            obj = obj.astimezone()
        return obj.isoformat().replace("+00:00", "Z")
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if hasattr(obj, "__iter__"):
        return list(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    raise TypeError("%r is not JSON serializable" % (obj,))


def _json_clean(obj, lenient):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return repr(obj) if math.isnan(obj) or math.isinf(obj) else float(obj)
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out[str(k)] = _json_clean(v, lenient)
        if len(out) != len(obj) and not lenient:
            raise ValueError("dict keys collide once turned into strings")
        return out
    if isinstance(obj, datetime.datetime):
        return obj.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(obj, (list, tuple, set, frozenset)) or (hasattr(obj, "__iter__") and hasattr(obj, "__next__")):
        return [_json_clean(x, lenient) for x in obj]
    if lenient:
        return str(obj)
    raise ValueError("cannot clean for JSON: %r" % (obj,))


def dumps_line(obj):
    """One event line, UTF-8, as a Jupyter kernel would have serialised it."""
    try:
        text = json.dumps(obj, default=_json_default, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        try:
            clean = _json_clean(obj, False)
        except ValueError:
            # Jupyter would fail to send this one; a string beats losing the result.
            clean = _json_clean(obj, True)
        text = json.dumps(clean, default=str, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8", "replace")


# --- formatters ----------------------------------------------------------------

def _dataframe_data(df, pd):
    # E2B: to_dict(orient="list"), Timestamps as ISO strings.
    data = df.to_dict(orient="list")
    for k, col in data.items():
        data[k] = [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in col]
    return data


def _mpl_figure(obj):
    mf = sys.modules.get("matplotlib.figure")
    return obj if mf is not None and isinstance(obj, mf.Figure) else None


def _format_one(mime, method, obj):
    """The value one formatter gives obj, or None. Printers for types come first,
    as IPython's for_type() registrations do; then the object's own method."""
    if mime == "text/plain":
        return _plain_text(obj)
    if mime == "image/png":
        fig = _mpl_figure(obj)
        if fig is not None and MPL.active:
            return figure_png(fig)
    elif mime == "application/json" and isinstance(obj, (list, dict)):
        try:
            return _orjson_value(obj)
        except (TypeError, ValueError, RecursionError):
            pass
    elif mime == "e2b/data":
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(obj, pd.DataFrame):
            return _dataframe_data(obj, pd)
    elif mime == "e2b/chart":
        fig = _mpl_figure(obj)
        if fig is not None:
            return figure_chart(fig)
    m = _real_method(obj, method)
    return m() if m is not None else None


def _checked(mime, types_, value, obj):
    """IPython's _check_return: (data, metadata) pairs give their data; a JSON
    string is parsed; any other type is refused with a warning."""
    if isinstance(value, tuple) and value:
        value = value[0]
    if value is None or isinstance(value, types_):
        return value
    if mime == "application/json" and isinstance(value, str):
        warnings.warn("JSON expects a list or dict, not a JSON string", FormatterWarning)
        try:
            return json.loads(value)
        except ValueError:
            return None
    warnings.warn("%s formatter returned invalid type %s (expected %s) for object: %s"
                  % (mime, type(value).__name__, types_, _safe_repr(obj)), FormatterWarning)
    return None


def _safe_repr(obj):
    try:
        return repr(obj)[:200]
    except Exception:
        return "<unrepresentable %s>" % type(obj).__name__


def mime_bundle(obj, include=None, exclude=None):
    """{MIME type: data} for obj, as IPython's DisplayFormatter.format; {} when the
    object displayed itself (_ipython_display_). A formatter that raises is
    reported as an error of the cell, as IPython's catch_format_error does."""
    show_self = _real_method(obj, "_ipython_display_")
    if show_self is not None:
        show_self()
        return {}
    data = {}
    bundle = _real_method(obj, "_repr_mimebundle_")
    if bundle is not None:
        try:
            got = bundle(include=include, exclude=exclude)
            if isinstance(got, tuple):
                got = got[0]
            data.update(got or {})
        except NotImplementedError:
            pass
        except Exception as e:
            report_exception(e)
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
    for mime, method, types_ in FORMATTERS:
        if mime in data or (include and mime not in include) or (exclude and mime in exclude):
            continue
        try:
            value = _checked(mime, types_, _format_one(mime, method, obj), obj)
        except NotImplementedError:
            continue
        except Exception as e:
            report_exception(e)
            continue
        if value is not None:
            data[mime] = value
    return data


def result_line(bundle, is_main):
    """The /execute result line for a MIME bundle, with E2B's field names."""
    rest = dict(bundle)
    line = {"type": "result"}
    for mime, field in RESULT_FIELDS:
        value = rest.pop(mime, None)
        if value is None:
            continue
        if mime in BINARY_MIMES and isinstance(value, (bytes, bytearray)):
            value = base64.b64encode(bytes(value)).decode("ascii")
        elif field == "text" and value and ((value.startswith("'") and value.endswith("'"))
                                            or (value.startswith('"') and value.endswith('"'))):
            value = value[1:-1]  # E2B's server strips one pair of quotes
        line[field] = value
    line["extra"] = rest
    line["is_main_result"] = is_main
    return line


def publish(bundle, is_main):
    """Sends one result: stdout/stderr written before it go first."""
    flush_all()
    line = result_line(bundle, is_main)
    data = dumps_line(line)
    if len(data) > RESULT_LINE_MAX:
        # Too big for one line: leave out the biggest fields, and say so.
        sizes = sorted(((len(dumps_line(v)), k) for k, v in line.items()
                        if k not in ("type", "is_main_result")), reverse=True)
        dropped = []
        for size, key in sizes:
            if len(data) <= RESULT_LINE_MAX:
                break
            line.pop(key)
            dropped.append("%s (%d bytes)" % (key, size))
            data = dumps_line(line)
        STDERR.write("nestbox: a result was larger than %d bytes; left out: %s\n"
                     % (RESULT_LINE_MAX, ", ".join(dropped)))
        flush_all()
    emit_bytes(data)


def display(*objs, include=None, exclude=None, metadata=None, transient=None, display_id=None,
            raw=False, clear=False, **kwargs):
    """IPython's display(): each object becomes a result that is not the main one.
    raw=True takes MIME bundles ({MIME type: data}) as they are."""
    for obj in objs:
        if raw:
            bundle = dict(obj) if isinstance(obj, dict) else {"text/plain": _plain_text(obj)}
        else:
            bundle = mime_bundle(obj, include, exclude)
        if bundle:
            publish(bundle, False)


def publish_display_data(data, metadata=None, source=None, *, transient=None, **kwargs):
    """IPython's publish_display_data(): one non-main result from a MIME bundle."""
    publish(dict(data), False)


# --- set-up done when a program imports a library -------------------------------

class AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs a function right after a module's own code ran, so the driver sets up
    matplotlib, pandas, PIL and IPython the way a Jupyter kernel has them only
    for programs that import them (`1+1` never pays for it). Also serves modules
    that exist only here (the matplotlib backend)."""

    def __init__(self, hooks, virtual):
        self.hooks = dict(hooks)  # module name -> fn(module)
        self.virtual = dict(virtual)  # module name -> fn(module) that fills it

    def find_spec(self, name, path=None, target=None):
        if name in self.virtual:
            return importlib.util.spec_from_loader(name, self)
        hook = self.hooks.pop(name, None)
        if hook is None:
            return None
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        loader = spec.loader if spec is not None else None
        # Only a loader of this one module can take an instance attribute (a shared
        # one, e.g. a class like BuiltinImporter, must stay untouched).
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            self.hooks[name] = hook
            return spec
        run = loader.exec_module

        def exec_module(module):
            try:
                run(module)
            except BaseException:
                self.hooks[name] = hook  # a later import tries again
                raise
            try:
                hook(module)
            except Exception as e:
                STDERR.write("nestbox: setting up %s failed: %s: %s\n" % (name, type(e).__name__, e))

        loader.exec_module = exec_module
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self.virtual[module.__name__](module)


def _setup_pandas(pd):
    # A Jupyter kernel shows up to 20 columns. pandas picks 0 (fit the terminal)
    # when get_ipython() is missing, as it is here (pandas/core/config_init.py).
    if pd.get_option("display.max_columns") == 0:
        pd.set_option("display.max_columns", 20)


def _setup_pil_image(mod):
    # E2B's startup_scripts/0003_images.py: saving an image to a path shows it.
    save = mod.Image.save

    def save_and_show(self, fp, format=None, **params):
        if isinstance(fp, str):
            display(self)
        return save(self, fp, format, **params)

    save_and_show.__doc__ = save.__doc__
    mod.Image.save = save_and_show


def _setup_pil_show(mod):
    # Image.show() displays the image (E2B's kernel gets there through Pillow's
    # IPython viewer); first in line, so no X viewer is ever tried.
    class ResultViewer(mod.Viewer):
        def show(self, image, **options):
            display(image)
            return 1

    mod.register(ResultViewer, order=-1)


def _setup_ipython_display(mod):
    # `from IPython.display import display` must reach our results.
    # (Only names the module defines: IPython 8's core.display warns on lookups of
    # names it merely re-exports.)
    names = vars(mod)
    if "display" in names:
        mod.display = display
    if "publish_display_data" in names:
        mod.publish_display_data = publish_display_data


def install_import_hooks():
    sys.meta_path.insert(0, AfterImport(
        {
            "matplotlib": setup_matplotlib,
            "pandas": _setup_pandas,
            "PIL.Image": _setup_pil_image,
            "PIL.ImageShow": _setup_pil_show,
            # IPython >= 7.23 defines display() there; older ones in core.display.
            "IPython.core.display_functions": _setup_ipython_display,
            "IPython.core.display": _setup_ipython_display,
        },
        {MPL_BACKEND_MODULE: fill_backend_module},
    ))


def semicolon_at_end(code):
    """True when the cell's last token is ';' (IPython then shows no main result)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
            tokenize.INDENT, tokenize.DEDENT)
    for tok in reversed(tokens):
        if tok.type in skip:
            continue
        return tok.type == tokenize.OP and tok.string == ";"
    return False
