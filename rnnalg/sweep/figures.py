"""The report's pictures: validation curves, and ours beside the paper's as a dot plot.

* `<stem>_curves.png`: one panel per dataset, the validation figure per epoch of every seed
  of each cell's chosen configuration (integer epoch ticks);
* `<stem>_dots.png`: one panel per dataset, a row per model: our test figure (filled dot,
  mean ± sd over seeds, n beside it), the paper's (hollow dot marked Q or R), and our RNN's mean
  as a dashed baseline.  Dot plots need no zero on the value axis: positions, not bar lengths,
  carry the figure, and each panel has its own range.
Every model has one colour in every figure and panel; legends sit below the panels.
"""
from __future__ import annotations

from pathlib import Path

from ..atomic import write_atomic
from .paper import paper_figure

MODEL_COLOURS = {"RNN": "#4d4d4d", "DT(S)": "#1f77b4", "DOT(S)": "#d62728", "sRNN-2": "#2ca02c",
                 "DOT(S)*": "#9467bd",
                 # the tables' other rows, each its own (a hash of the name put LSTM and LSTM (tied)
                 # on one colour); a variant in a lighter shade of its model's
                 "LSTM": "#ff7f0e", "LSTM (tied)": "#ffbb78", "GRU": "#8c564b", "minGRU": "#e377c2",
                 "LN-LSTM": "#17becf", "DOT(S)+dropout": "#ff9896"}
OTHER_COLOURS = ("#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def colour(model: str) -> str:
    """A model's colour, the same in every figure (models outside the paper's get a stable one)."""
    return MODEL_COLOURS.get(model) or OTHER_COLOURS[sum(map(ord, model)) % len(OTHER_COLOURS)]


def write_figures(cells: list, folder: Path, stem: str, metric_label: str, title_of, models: tuple) -> list:
    """The two PNGs of one table; [] without matplotlib.  `title_of(cell)`: its dataset's name."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    panels = {}
    for c in cells:
        panels.setdefault(title_of(c), []).append(c)
    order = [m for m in models if any(c.model == m for c in cells)]
    order += sorted({c.model for c in cells} - set(order))
    curves = _save(_curves(panels, order, metric_label), folder, f"{stem}_curves.png")
    dots = _save(_dots(panels, order, metric_label), folder, f"{stem}_dots.png")
    return [curves, dots]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, folder: Path, name: str) -> Path:
    write_atomic(folder, name, lambda f: fig.savefig(f, format="png", dpi=90, bbox_inches="tight"))
    return folder / name


def _legend_below(fig, handles, labels) -> None:
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(6, len(labels)),
               fontsize=8, frameon=False)


def _curves(panels: dict, order: list, metric_label: str):
    from matplotlib.ticker import MaxNLocator

    fig = _figure(max(6.5, 4.0 * len(panels)), 3.4)
    seen = {}
    for i, (title, cells) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for c in sorted(cells, key=lambda c: order.index(c.model)):
            for k, line in enumerate(c.lines):
                curve = line.get("curve") or []
                if curve:
                    (handle,) = ax.plot([e for e, _ in curve], [v for _, v in curve], color=colour(c.model),
                                        lw=1.2 if k == 0 else 0.7, alpha=1.0 if k == 0 else 0.6)
                    seen.setdefault(c.model, handle)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"valid {metric_label}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    models = [m for m in order if m in seen]
    _legend_below(fig, [seen[m] for m in models], [f"{m} (each seed)" for m in models])
    fig.tight_layout()
    return fig


def _dots(panels: dict, order: list, metric_label: str):
    from matplotlib.lines import Line2D

    fig = _figure(max(6.5, 3.6 * len(panels)), 0.45 * len(order) + 1.6)
    for i, (title, cells) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for c in cells:
            y = order.index(c.model)
            spread = c.test_spread or 0.0
            ax.errorbar([c.test_mean], [y], xerr=[spread], fmt="o", color=colour(c.model), capsize=3, ms=6)
            ax.annotate(f"n={len(c.lines)}", (c.test_mean, y), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=7, color=colour(c.model))
            figure = paper_figure(c.data.name, c.model) if c.data.name else None
            if figure:
                ax.plot([figure.value], [y], "o", color=colour(c.model), mfc="none", ms=8, mew=1.5)
                ax.annotate(figure.mark, (figure.value, y), xytext=(0, -12), textcoords="offset points",
                            ha="center", fontsize=7, color=colour(c.model))
            if c.model == "RNN":
                ax.axvline(c.test_mean, color=colour("RNN"), ls="--", lw=0.8)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(order)
        ax.set_ylim(len(order) - 0.5, -0.7)
        ax.margins(x=0.15)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"test {metric_label} (lower is better)")
        ax.grid(axis="x", alpha=0.3)
    grey = "#4d4d4d"
    handles = [Line2D([], [], marker="o", color=grey, ls="none"),
               Line2D([], [], marker="o", mfc="none", mec=grey, ls="none", ms=8),
               Line2D([], [], color=grey, ls="--", lw=0.8)]
    _legend_below(fig, handles, ["ours: mean ± sd over n seeds",
                                 "paper (Q quoted, R recalled: unverified)", "baseline: our RNN's mean"])
    fig.tight_layout()
    return fig
