# nestbox code-interpreter driver, part 2 of 5: matplotlib (see interp-display.py
# for how the parts are joined).
#
# A Jupyter kernel runs pyplot on matplotlib-inline's backend: plt.show() displays
# every open figure and closes them, and figures pyplot made during a cell but
# never showed are displayed when the cell ends. A displayed figure is a result
# with the figure's repr as text, a PNG (IPython's print_figure: the figure's dpi,
# bbox_inches="tight"), and E2B's "chart": the data behind the plot, which its
# server extracts (the e2b_charts package) for line, scatter, bar, pie and
# box-and-whisker axes, a "superchart" for several axes, and {} when it finds
# nothing. The backend below is that, written for this driver; it is chosen
# unless MPLBACKEND says otherwise (ipykernel sets MPLBACKEND only when unset),
# and never through the environment, so programs the cell starts keep
# matplotlib's default.
import base64, decimal, io, os, re, sys

MPL_BACKEND_MODULE = "nestbox_inline"


class MPL:
    active = False  # the backend was loaded: figures get a PNG (IPython registers it then)
    to_draw = []  # figures pyplot made while interactive, shown when the cell ends
    draw_called = False


def setup_matplotlib(mpl):
    if os.environ.get("MPLBACKEND"):
        return
    mpl.rcParams["backend"] = "module://" + MPL_BACKEND_MODULE


def fill_backend_module(mod):
    """The backend module matplotlib imports for "module://nestbox_inline"."""
    import matplotlib
    from matplotlib.backends import backend_agg
    from matplotlib.figure import Figure

    # As IPython's activate_matplotlib: pyplot is interactive in a notebook.
    matplotlib.interactive(True)
    MPL.active = True

    def new_figure_manager(num, *args, FigureClass=Figure, **kwargs):
        return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))

    def new_figure_manager_given_figure(num, figure):
        manager = backend_agg.new_figure_manager_given_figure(num, figure)
        if matplotlib.is_interactive():
            if figure in MPL.to_draw:
                MPL.to_draw.remove(figure)
            MPL.to_draw.append(figure)
            MPL.draw_called = True
        return manager

    mod.FigureCanvas = backend_agg.FigureCanvasAgg
    mod.new_figure_manager = new_figure_manager
    mod.new_figure_manager_given_figure = new_figure_manager_given_figure
    mod.show = mpl_show


def mpl_show(close=None, block=None):
    """plt.show(): every open figure becomes a result, then all are closed."""
    from matplotlib._pylab_helpers import Gcf
    import matplotlib.pyplot

    if close is None:
        close = True
    try:
        for manager in Gcf.get_all_fig_managers():
            display(manager.canvas.figure)
    finally:
        MPL.to_draw = []
        if close and Gcf.get_all_fig_managers():
            matplotlib.pyplot.close("all")


def flush_figures():
    """End of a cell: figures pyplot drew but nobody showed are shown (and closed)."""
    if not MPL.active or not MPL.draw_called:
        return
    try:
        mpl_show(True)
    except Exception as e:
        report_exception(e)
    finally:
        MPL.to_draw = []
        MPL.draw_called = False


def figure_png(fig):
    """IPython's print_figure(fig, "png", bbox_inches="tight"); None for an empty figure."""
    if not fig.axes and not getattr(fig, "lines", None):
        return None
    if fig.canvas is None:
        from matplotlib.backend_bases import FigureCanvasBase
        FigureCanvasBase(fig)
    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format="png", facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor(),
                            dpi=fig.dpi, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --- E2B's chart data ------------------------------------------------------------

def figure_chart(fig):
    """The "chart" field: a dict in e2b_charts' shape, {} when there is nothing to
    say or the extraction fails (E2B's formatter swallows errors the same way)."""
    try:
        axes = fig.get_axes()
        if not axes or not any(ax.has_data() for ax in axes):
            return {}
        if len(axes) > 1:
            return {"type": "superchart", "title": _suptitle(fig), "elements": [_axes_chart(ax) for ax in axes]}
        return _axes_chart(axes[0])
    except Exception:
        return {}


def _suptitle(fig):
    get = getattr(fig, "get_suptitle", None)  # matplotlib >= 3.8
    if get is not None:
        return get()
    return fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""


def _round8(number):
    """e2b_charts' dynamic_round: about eight significant digits, as a Decimal."""
    d = decimal.Decimal(str(number))
    with decimal.localcontext() as ctx:
        ctx.prec = max(1, 8 - d.adjusted())
        return +d


def _is_grid_line(line):
    # Two points on one vertical or horizontal: a grid or reference line.
    xs, ys = line.get_xdata(), line.get_ydata()
    if len(xs) != 2 or len(ys) != 2:
        return False
    return xs[0] == xs[1] or ys[0] == ys[1]


def _chart_type(ax):
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch, Rectangle, Wedge
    from matplotlib.text import Text

    artists = [a for a in ax._children if not isinstance(a, Text)]
    if all(isinstance(a, Line2D) for a in artists):
        return "line"
    if all(isinstance(a, (PathPatch, Line2D)) for a in artists):
        return "box_and_whisker"
    artists = [a for a in artists if not (isinstance(a, Line2D) and _is_grid_line(a))]
    for kind, cls in (("scatter", PathCollection), ("pie", Wedge), ("bar", Rectangle)):
        if all(isinstance(a, cls) for a in artists):
            return kind
    return "unknown"


def _axes_chart(ax):
    kind = _chart_type(ax)
    chart = {"type": kind, "title": ax.get_title() or None, "elements": []}
    if kind in ("line", "scatter", "bar", "box_and_whisker"):
        _axes_2d(ax, chart)
    if kind in ("line", "scatter"):
        _axes_points(ax, chart)
    if kind == "line":
        for line in ax.get_lines():
            if _is_grid_line(line):
                continue
            label = line.get_label()
            if label.startswith("_child"):
                label = "Line %d" % int(label[6:])
            chart["elements"].append({"label": label, "points": [[_point(x), _point(y)] for x, y in
                                                                 zip(line.get_xdata(), line.get_ydata())]})
    elif kind == "scatter":
        for coll in ax.collections:
            chart["elements"].append({"label": coll.get_label(),
                                      "points": [[_point(x), _point(y)] for x, y in coll.get_offsets()]})
    elif kind == "bar":
        _bars(ax, chart)
    elif kind == "pie":
        for wedge in ax.patches:
            angle = abs(_round8(decimal.Decimal(float(wedge.theta2)) - decimal.Decimal(float(wedge.theta1))))
            chart["elements"].append({"label": wedge.get_label(), "angle": float(angle), "radius": float(wedge.r)})
    elif kind == "box_and_whisker":
        _boxes(ax, chart)
    return chart


def _axes_2d(ax, chart):
    # Labels, and units written as "name (unit)" or "name [unit]".
    for axis, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
        chart[axis + "_label"] = label or None
    for axis in ("x", "y"):
        unit = None
        if chart[axis + "_label"]:
            m = re.search(r"\s\((.*?)\)|\[(.*?)\]", chart[axis + "_label"])
            if m:
                unit = m.group(1) or m.group(2)
        chart[axis + "_unit"] = unit


def _swap_axes_2d(chart):
    chart["x_label"], chart["y_label"] = chart["y_label"], chart["x_label"]
    chart["x_unit"], chart["y_unit"] = chart["y_unit"], chart["x_unit"]


def _converter(axis):
    get = getattr(axis, "get_converter", None)  # matplotlib >= 3.10
    return get() if get is not None else axis.converter


def _is_date_converter(conv):
    import matplotlib.dates
    cls = getattr(matplotlib.dates, "_SwitchableDateConverter", None)
    return cls is not None and isinstance(conv, cls)


def _axes_points(ax, chart):
    """Ticks, tick labels and scale of each axis (line and scatter charts)."""
    import matplotlib.dates

    for name, axis, ticks, labels, scale in (
            ("x", ax.xaxis, ax.get_xticks(), ax.get_xticklabels(), ax.get_xscale()),
            ("y", ax.yaxis, ax.get_yticks(), ax.get_yticklabels(), ax.get_yscale())):
        conv = _converter(axis)
        labels = [t.get_text() for t in labels]
        if _is_date_converter(conv):
            ticks = [matplotlib.dates.num2date(t).isoformat() for t in ticks]
        elif isinstance(ticks[0], (int, float)):
            ticks = [float(t) for t in ticks]
        else:
            ticks = list(ticks)
        chart[name + "_ticks"] = ticks
        chart[name + "_tick_labels"] = labels
        chart[name + "_scale"] = _scale(conv, scale, ticks, labels)


def _scale(conv, scale, ticks, labels):
    if _is_date_converter(conv):
        return "datetime"
    if scale != "linear":
        return scale
    # Categorical: ticks 0, 1, 2... whose labels are not those numbers.
    for i, (tick, label) in enumerate(zip(ticks, labels)):
        if not (isinstance(tick, (int, float)) and tick == i and str(i) != label):
            return "linear"
    return "categorical"


def _point(v):
    import datetime
    np = sys.modules.get("numpy")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if np is not None and isinstance(v, np.datetime64):
        return str(v.astype("datetime64[s]"))
    if isinstance(v, str):
        return v
    return float(v)  # TypeError for anything else: no chart, as in E2B


def _bars(ax, chart):
    for container in ax.containers:
        group = container.get_label()
        if group.startswith("_container"):
            group = "Group %d" % int(group[10:])
        heights = [rect.get_height() for rect in container]
        if all(h == heights[0] for h in heights):
            # Bars of one height: taken as horizontal bars (barh), read along y.
            _swap_axes_2d(chart)
            labels = [t.get_text() for t in ax.get_yticklabels()]
            values = [rect.get_width() for rect in container]
        else:
            labels = [t.get_text() for t in ax.get_xticklabels()]
            values = heights
        for label, value in zip(labels, values):
            chart["elements"].append({"label": label, "group": group, "value": float(value)})


def _boxes(ax, chart):
    labels = [t.get_text() for t in ax.get_xticklabels()]
    boxes = []
    for label, patch in zip(labels, ax.patches):
        verts = patch.get_path().vertices
        xs = [_round8(x) for x in verts[:, 0]]
        ys = [_round8(y) for y in verts[:, 1]]
        boxes.append({"label": label, "x": min(xs), "y": min(ys), "width": max(xs) - min(xs),
                      "height": max(ys) - min(ys), "outliers": []})
    # Boxes of one height lie along x: turn them so that y holds the values.
    across = all(b["height"] == boxes[0]["height"] for b in boxes)
    if across:
        _swap_axes_2d(chart)
        for b in boxes:
            b["x"], b["y"], b["width"], b["height"] = b["y"], b["x"], b["height"], b["width"]

    def box_at(x0, x1):
        for b in boxes:
            if b["x"] <= x0 <= x1 <= b["x"] + b["width"]:
                return b
        return None

    for line in ax.lines:
        xs = [_round8(x) for x in line.get_xdata()]
        ys = [_round8(y) for y in line.get_ydata()]
        if across:
            xs, ys = ys, xs
        if len(xs) == 1:  # a flier
            b = box_at(xs[0], xs[0])
            if b is None:
                continue
            b["outliers"].append(ys[0])
        if len(ys) != 2:
            continue
        b = box_at(xs[0], xs[1])
        if b is None:
            continue
        if ys[0] == ys[1] and b["y"] <= ys[0] <= b["y"] + b["height"]:
            b["median"] = ys[0]
        elif max(ys) == b["y"]:
            b["whisker_lower"] = min(ys)
        elif min(ys) == b["y"] + b["height"]:
            b["whisker_upper"] = max(ys)
    chart["elements"] = [{"label": b["label"], "min": float(b["whisker_lower"]), "first_quartile": float(b["y"]),
                          "median": float(b["median"]), "third_quartile": float(b["y"] + b["height"]),
                          "max": float(b["whisker_upper"]), "outliers": [float(o) for o in b["outliers"]]}
                         for b in boxes]
