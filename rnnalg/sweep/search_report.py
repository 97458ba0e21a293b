"""RESULTS.md's section for an architecture search, and its figure `figures/<search>.png`.

Per dataset, the candidates ranked by best validation figure (chosen on validation only: the
test figure is not shown, so that no one picks a cell by it), each with its moves from its
seed, its size and parameter count, the epochs it ran, and whether ASHA stopped it: a trial
ASHA stopped ran fewer epochs, so its figure is not comparable to a full run's.  A candidate
with several seeds shows the mean ± sd of its seeds' figures; one trained in several
configurations (flags other than the seed and time limit, `cells.configurations`) has a row for each.

The figure: parameters (x) × best validation figure (y), every candidate a dot (hollow when
ASHA stopped it); the seeds and the candidates that are one of the paper's variants
(`variants.py`) are drawn in the variant's colour and labelled, as is the best candidate.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from .cells import SEARCH_BUDGET_FLAGS, configuration_flags, configurations, longest_per_seed, seed_of
from .figures import _figure, _legend_below, _save, colour
from .results import METRIC_NAMES, format_number, stop_text
from .stats import THRESHOLD, difference, mean_sd
from .variants import PAPER_VARIANTS, mark_variants, variant_specs

GREY = "#7f7f7f"
PAPER_ORDER = [name for name, _ in PAPER_VARIANTS]  # the legend's order


@dataclass
class Row:
    candidate: object  # search_results.Candidate
    lines: list  # its results lines on one dataset
    mark: str | None  # the paper variant it is, or its seed's label when it is a seed

    @property
    def figures(self) -> list:
        return [x["best_valid"] for x in self.lines if _finite(x.get("best_valid"))]

    @property
    def valid(self) -> float | None:
        return statistics.fmean(self.figures) if self.figures else None

    @property
    def pruned(self) -> list:
        return [x for x in self.lines if x.get("status") == "pruned"]

    @property
    def params(self) -> int:
        return next((x["params"] for x in self.lines if x.get("params")), self.candidate.parameters)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def rows_by_dataset(search, marks: dict, reruns: bool = False) -> dict:
    """{dataset label: [Row]} ranked: best validation figure first, trials without one last.  The
    rows in the search's own flags (those most of the dataset's lines have, the seed and time limit
    aside); with `reruns`, the rows in other flags instead (candidates re-run after the search)."""
    grouped: dict = {}
    for line in search.lines:
        data = line.get("data_label") or line["trial"].get("dataset_label") or "?"
        grouped.setdefault(data, []).append(line)
    ranked = {}
    for data, lines in grouped.items():
        flags = [json.dumps(configuration_flags(x, SEARCH_BUDGET_FLAGS), sort_keys=True) for x in lines]
        own = max(set(flags), key=lambda f: (flags.count(f), f))
        models: dict = {}
        for line, f, config in zip(lines, flags, configurations(lines)):
            if (f != own) == reruns:
                models.setdefault((line["trial"].get("model"), config), []).append(line)
        rows = []
        for (name, _), kept in models.items():
            c = search.candidates[name]
            rows.append(Row(c, kept, marks.get(name) or (c.seed if not c.moves else None)))
        if rows:
            ranked[data] = sorted(rows, key=lambda r: (r.valid is None, r.valid or 0.0, r.candidate.name))
    return ranked


def paper_marks(search, examples=None) -> tuple[dict, list]:
    """({candidate name: paper variant}, the variants compared) for a search."""
    variants = variant_specs(examples) if examples is not None else variant_specs()
    return mark_variants(search.candidates.values(), search.size_name, variants, search.source), \
        [name for name, _ in variants]


def search_section(search, names: dict, marks: dict, compared: list, picture: Path | None,
                   others: list = ()) -> str:
    """The markdown of one search; `names`: dataset label -> its name in tables; `marks`, `compared`:
    as `paper_marks` gives them; `picture`: the figure's path relative to RESULTS.md; `others`: the
    results lines of no search, where the seeds' own runs in a re-run's configuration are found."""
    ranked, reruns = rows_by_dataset(search, marks), rows_by_dataset(search, marks, reruns=True)
    out = [f"## Architecture search: {search.name}\n", _intro(search, compared)]
    for data, rows in ranked.items():
        metric = next((x.get("metric") for r in rows for x in r.lines if x.get("metric")), "nll")
        label = METRIC_NAMES.get(metric, metric)
        out += [f"### {names.get(data, data)}: {len(rows)} candidates by best validation {label}\n",
                f"| rank | candidate | seed | moves from its seed | paper variant | {search.size_name} | params "
                f"| epochs | best valid {label} | ASHA | stopped |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        rank = 0
        for r in rows:
            rank += r.valid is not None
            out.append(_row(r, rank if r.valid is not None else None, metric, marks))
        out.append(_notes(rows))
        out.append(_reruns(reruns.get(data, []), data, others, metric))
    if picture is not None:
        out.append(f"![{picture.stem}]({picture.as_posix()})\n")
    return "\n".join(out)


def _intro(search, compared: list) -> str:
    seeds = list(dict.fromkeys(c.seed for c in search.candidates.values()))
    counts = [c.parameters for c in search.candidates.values()]
    ran = {x["trial"].get("model") for x in search.lines}
    waiting = [n for n in search.candidates if n not in ran]
    command = f"`rnnalg search {search.file}`" if search.file else f"The search `{search.name}`"
    text = (f"{command}: {len(search.candidates)} candidates from the seeds {', '.join(seeds)}, each sized "
            f"to {min(counts):,}–{max(counts):,} parameters; {len(ran)} with results"
            + (f", {len(waiting)} not run ({', '.join(waiting[:8])}{' …' if len(waiting) > 8 else ''})"
               if waiting else "") + f" (candidates read from {search.source}).\n\n")
    paper = ("*paper variant*: the same model as the paper's variant (`rnnalg equiv` against "
             f"examples/*.rnn at the candidate's {search.size_name}: "
             f"{', '.join(compared)}); **bold**: a seed or a paper variant, labelled in the figure"
             if compared else "*paper variant*: not marked (examples/ not found beside rnnalg); **bold**: a seed")
    return text + ("Ranked by the best validation figure (chosen on validation only; the test figure is "
                   "not shown). " + paper + ". *ASHA*: the trial was stopped early by ASHA at the epoch "
                   "shown: its figure is after fewer epochs, **not comparable** to a full run's. *stopped*: "
                   "why a run that ASHA let finish ended (*interrupted after N epochs, resumable*: still under way, "
                   "as it stands, `rnnalg sweep --standings`).\n")


def _row(r: Row, rank, metric: str, marks: dict) -> str:
    c = r.candidate
    moves = " → ".join(c.moves) if c.moves else "(the seed)"
    figures = r.figures
    figure = format_number(r.valid, statistics.stdev(figures) if len(figures) > 1 else None, metric) \
        if figures else ", ".join(sorted({str(x.get("status")) for x in r.lines}))
    if len(figures) > 1:
        figure += f" (n = {len(figures)})"
    asha = ", ".join(f"at epoch {x.get('epochs')}" for x in r.pruned)
    stops = ", ".join(sorted({stop_text(x) for x in r.lines if x.get("status") == "ok"}))
    epochs = ", ".join(str(x.get("epochs")) for x in r.lines)
    mark = marks.get(c.name) or ""
    name = f"**{c.name}**" if r.mark else c.name
    return (f"| {rank or ''} | {name} | {c.seed} | {moves.replace('|', '/')} | {mark} | {c.size} | "
            f"{r.params:,} | {epochs} | {figure} | {asha} | {stops} |")


def _notes(rows: list) -> str:
    stopped = [r for r in rows if r.pruned]
    failed = [x for r in rows for x in r.lines if x.get("status") == "failed"]
    out = []
    if stopped:
        out.append(f"- {len(stopped)} of {len(rows)} candidates were stopped early by ASHA: their figure "
                   "is after fewer epochs than a full run's, so their rank among full runs means little.")
    twice = sorted({r.candidate.name for r in rows if [x.candidate.name for x in rows].count(r.candidate.name) > 1})
    if twice:
        out.append(f"- {', '.join(twice)}: trained in more than one configuration (flags other than the seed "
                   "and time limit differ), one row each.")
    clocked = [r for r in rows if any(x.get("stopped") == "time limit" for x in r.lines)]
    if clocked:
        out.append(f"- {len(clocked)} of {len(rows)} candidates ran until their time limit (the search's budget "
                   "per trial), not until early stopping: their figure is what that budget allowed, and a "
                   "slower candidate ran fewer epochs in it.")
    for x in failed:
        message = (x.get("error") or "unknown error").splitlines()[0]
        out.append(f"- {x['trial'].get('id')} failed: {message.replace('|', '/')}")
    return ("\n" + "\n".join(out) + "\n") if out else ""


def _tests(lines) -> list:
    return [x["test"] for x in lines if x.get("status") == "ok" and _finite(x.get("test"))]


def _reruns(rows: list, data: str, others: list, metric: str) -> str:
    """The candidates re-run in other flags, their test figures beside their seed model's in the
    same configuration and seeds (non-search lines on the same data, labelled as the seed, with the
    same flags but the time limit; per seed the longest limit): the comparison under one budget."""
    reruns = [r for r in rows if _tests(r.lines)]
    if not reruns:
        return ""
    out = ["Re-run after the search in other flags (test figures; the candidates were chosen above on "
           "validation), beside the seed model trained in the same configuration with the same seeds "
           "(the same flags but the time limit, per seed the longest; from the tables above):\n",
           "| candidate | configuration | test | seed model in that configuration | test | gain | "
           f"beats it by > {THRESHOLD:g} SE |", "|---|---|---|---|---|---|---|"]
    for r in reruns:
        mine, flags = _tests(r.lines), configuration_flags(r.lines[0], SEARCH_BUDGET_FLAGS)
        theirs = _tests(longest_per_seed([
            x for x in others if x["trial"].get("label") == r.candidate.seed
            and configuration_flags(x, SEARCH_BUDGET_FLAGS) == flags
            and (x.get("data_label") or x["trial"].get("dataset_label")) == data
            and seed_of(x) in {seed_of(y) for y in r.lines}]))
        shown = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in sorted(flags.items())) or "defaults"
        row = f"| {r.candidate.name} | {shown} | {_spread(mine, metric)} | {r.candidate.seed} | "
        if theirs:
            d = difference(theirs, mine)
            verdict = "cannot tell (one seed)" if d.significant is None else \
                (f"**yes** (2 SE = {THRESHOLD * d.se:.3f})" if d.significant else f"no (2 SE = {THRESHOLD * d.se:.3f})")
            row += f"{_spread(theirs, metric)} | {d.gain:+.3f} | {verdict} |"
        else:
            row += "not run in this configuration | | |"
        out.append(row)
    return "\n".join(out) + "\n"


def _spread(values: list, metric: str) -> str:
    mean, sd = mean_sd(values)
    return format_number(mean, sd, metric) + f" (n = {len(values)})"


def write_search_figure(search, folder: Path, names: dict, marks: dict) -> Path | None:
    """`folder/<search>.png`; None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return _save(search_figure(search, names, marks), folder, f"{search.name}.png")


def search_figure(search, names: dict, marks: dict):
    """The figure (a matplotlib Figure): one panel per dataset."""
    from matplotlib.lines import Line2D

    ranked = rows_by_dataset(search, marks)
    fig = _figure(max(6.5, 5.5 * len(ranked)), 4.2)
    shown = {}
    for i, (data, rows) in enumerate(ranked.items()):
        ax = fig.add_subplot(1, len(ranked), i + 1)
        metric = next((x.get("metric") for r in rows for x in r.lines if x.get("metric")), "nll")
        drawn = [r for r in rows if r.valid is not None]
        for r in drawn:
            filled = not r.pruned
            ax.plot([r.params], [r.valid], "o", ms=5, color=GREY, mfc=GREY if filled else "none", alpha=0.8)
        best = next((r for r in drawn if not r.pruned), None)
        for r in drawn:
            if r.mark or r is best:
                tint = colour(r.mark) if r.mark else "#000000"
                ax.plot([r.params], [r.valid], "o", ms=9, color=tint, mfc=tint if not r.pruned else "none", mew=1.5)
                text = f"{r.mark} ({r.candidate.name})" if r.mark else f"best: {r.candidate.name}"
                ax.annotate(text, (r.params, r.valid), xytext=(6, 4), textcoords="offset points", fontsize=7,
                            color=tint)
                if r.mark:
                    shown.setdefault(r.mark, tint)
        ax.set_title(f"{search.name}: {names.get(data, data)}", fontsize=10)
        ax.set_xlabel("parameters")
        ax.set_ylabel(f"best valid {METRIC_NAMES.get(metric, metric)} (lower is better)")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], marker="o", color=GREY, ls="none"),
               Line2D([], [], marker="o", mfc="none", mec=GREY, ls="none")]
    order = [m for m in PAPER_ORDER if m in shown] + sorted(set(shown) - set(PAPER_ORDER))
    handles += [Line2D([], [], marker="o", color=shown[m], ls="none", ms=8) for m in order]
    _legend_below(fig, handles, ["candidate (a full run)", "candidate stopped by ASHA (fewer epochs)",
                                 *[f"{m}: seed or paper variant" for m in order]])
    fig.tight_layout()
    return fig
