"""`RESULTS.md` and its figures, generated from results lines only (never typed by hand).

For each table (music: NLL per frame; PTB characters: BPC; PTB words: perplexity) the report
shows every (dataset, model) cell (`cells.py`: the configuration chosen on validation, the
figure as mean ± sd over fresh seeds), the paper's figure with its provenance (only when the
line's data fingerprint is the named dataset's, `dataid.py`), the difference, the parameter
count, the configurations tried, epochs, wall seconds and the whole budget the cell used (with
its CPU seconds where the lines record them, `usage.py`), the stop reason and, when a time limit
stopped it or it still runs (an interim line, `rnnalg sweep --standings`: "interrupted after N
epochs, resumable"), where the learning curve still pointed; † marks a figure with a trial the clock
stopped on a machine loaded beyond its CPUs.  Under
each table, per dataset, whether the best deep variant beats the RNN by more than two standard
errors (`stats.py`).  Then each figure trial's rerun command (`rerun.py`) and commit, the failed
trials with their messages, other papers' results (context), and two PNGs per table (`figures.py`).  An architecture
search's lines (`search_results.py`) are not cells of these tables: each search has its own
section and figure (`search_report.py`).
"""
from __future__ import annotations

from pathlib import Path

from ..atomic import write_atomic
from ..errors import UsageError
from .cells import seed_of, usable
from .figures import write_figures
from .paper import ANCHORS, PAPER, QUOTING_SOURCES, paper_figure
from .rerun import rerun_command
from .results import DIGITS, INTERRUPTED, METRIC_NAMES, best_cells, format_number, stop_text
from .search_report import paper_marks, search_section, write_search_figure
from .stats import THRESHOLD, difference
from . import usage

CUT_SHORT = ("time limit", INTERRUPTED)  # stops whose curve column says where the run still pointed
LOADED_MARK = "†"  # a time-limited trial of the figure ran on a machine loaded beyond its CPUs

TABLES = (("nll", "music", "Polyphonic music: test NLL per frame"),
          ("bpc", "ptb_char", "Penn Treebank characters: test bits per character"),
          ("ppl", "ptb_word", "Penn Treebank words: test perplexity"))
DATASET_NAMES = {"nottingham": "Nottingham", "jsb": "JSB Chorales", "musedata": "MuseData",
                 "piano": "Piano-midi.de", "ptb-char": "PTB characters", "ptb-word": "PTB words"}
MODELS = ("RNN", "DT(S)", "DOT(S)", "sRNN-2", "DOT(S)*")
DEEP = MODELS[1:]
CELLS = ("LSTM", "GRU", "minGRU", "LN-LSTM")  # issue 20's rows, after the paper's; never in DEEP's verdict
METRIC_OF = {"nottingham": "nll", "jsb": "nll", "musedata": "nll", "piano": "nll", "ptb-char": "bpc",
             "ptb-word": "ppl"}


TREND_EPOCHS = 2  # the curve column's window: a run with no better epoch in its last 2 reads flat


def trend(curve, last: int = TREND_EPOCHS) -> float | None:
    """Where a validation curve [(epoch, v)] still pointed: the change per epoch of its best
    figure so far, b_t = min(v_1..v_t), over the last `last` epochs, (b_T - b_{T-last}) / (e_T -
    e_{T-last}) ≤ 0 (every metric is lower-better); 0 when none of them bettered the epochs before,
    so a rise after the best epoch (an lr halving's jump, then noise) reads flat, not falling.
    None for a curve of `last` epochs or fewer."""
    if not curve or len(curve) <= last:
        return None
    best, running = float("inf"), []
    for _, value in curve:
        best = min(best, value)
        running.append(best)
    (e0, _), (e1, _) = curve[-last - 1], curve[-1]
    return (running[-1] - running[-last - 1]) / (e1 - e0)


def trend_text(value: float | None) -> str:
    """The curve column: '' (not cut short, or too few epochs), flat, or the change per epoch."""
    return "" if value is None else "flat" if value == 0 else f"{value:+.4f}/epoch"


def shown(cell) -> str:
    """A cell's dataset as the tables name it: the named set's name, else its label (a path)."""
    return DATASET_NAMES.get(cell.data.name, cell.data.name) if cell.data.name else cell.data.key


def write_report(lines: list, out_dir, sources: list, figures: bool = True, searches: list = ()) -> list:
    """Write out_dir/RESULTS.md (and out_dir/figures/*.png); returns the paths written.  `lines`:
    the lines of no search; `searches`: search_results.Search, each a section after the tables."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = best_cells(lines)  # the one rule, which `rnnalg sweep`'s table uses too
    written, parts = [], [_header(sources)]
    for metric, stem, title in TABLES:
        chosen = sorted((c for c in cells if c.metric == metric), key=_order)
        compared = {(c.data.name, c.model) for c in chosen if c.data.name}
        missing = [f for f in PAPER if METRIC_OF[f.dataset] == metric and (f.dataset, f.model) not in compared]
        pictures = []
        if figures and chosen:
            pictures = write_figures(chosen, out_dir / "figures", stem, METRIC_NAMES.get(metric, metric),
                                     shown, MODELS + CELLS)
        written += pictures
        parts.append(_table(title, chosen, missing, [p.relative_to(out_dir) for p in pictures]))
    for search in searches:
        marks, compared = paper_marks(search)
        picture = write_search_figure(search, out_dir / "figures", DATASET_NAMES, marks) if figures else None
        written += [picture] if picture else []
        parts.append(search_section(search, DATASET_NAMES, marks, compared,
                                    picture.relative_to(out_dir) if picture else None, lines))
    parts += [_commands(cells), _failures(lines), _anchors()]
    text = "\n".join(p for p in parts if p)
    write_atomic(out_dir, "RESULTS.md", lambda f: f.write(text.encode()))
    return [out_dir / "RESULTS.md", *written]


def _header(sources: list) -> str:
    return (
        "# Results: the paper's tables, run with rnnalg\n\n"
        f"Generated by `rnnalg report {' '.join(sources)}` from the committed results lines; "
        "do not edit by hand.\n\n"
        "*Ours*: the test figure of the best-validation parameters over the whole test split. In "
        "each cell the configuration (learning rate, batch size, weight noise, dropout variant, …) "
        "was chosen on validation, never on test, on the seeds every configuration ran (the "
        "search's); the figure is the mean ± sample standard deviation over the chosen "
        "configuration's other seeds (n; with none, the search's own seed: n = 1, no spread). "
        "A time limit is a budget, not part of a configuration: for each seed the trial with the "
        "longest limit stands (a rerun with more time supersedes one the clock cut short). "
        "*Configs*: configurations tried (pruned ones too). *Paper*: Pascanu et al. 2014, marked **Q** (quoted in "
        "later papers) or **R** (unverified: recalled, not found in a stored source); only data "
        "whose fingerprint (sha256) is the named dataset's stands beside it (*data*: "
        "\"not fingerprinted\" for lines written before fingerprints). *Wall*: mean seconds of the "
        "figure's trials, one core each on a shared 2-core machine; *budget*: core-seconds of all "
        "the cell's trials (search, pruned and failed trials, seeds). *Curve*: when a time limit "
        f"stopped the run or it is still running, the change per epoch of its best validation "
        f"figure so far over the last {TREND_EPOCHS} epochs (negative: still improving; *flat*: no "
        f"better epoch in the last {TREND_EPOCHS}, so a rise after the best epoch reads flat, not "
        "falling). *Interrupted after N epochs, "
        "resumable*: a trial of a sweep still under way, as it stands (`rnnalg sweep --standings`: "
        "its best parameters so far on the test split); its final line will replace it.\n")


def _table(title: str, cells: list, missing: list, pictures: list) -> str:
    rows = ["| dataset | model | ours | n | paper | Δ | params | configs | best epoch / epochs | wall s "
            "| budget s | stopped | curve | data |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    entries = [(_order(c), _row(c)) for c in cells]
    entries += [(_order(f), f"| {DATASET_NAMES.get(f.dataset, f.dataset)} | {f.model} | not run | | "
                            f"{f.value:g} {f.mark} | | | | | | | | | |") for f in missing]
    rows += [row for _, row in sorted(entries, key=lambda e: e[0])]
    images = "\n".join(f"![{p.stem}]({p.as_posix()})" for p in pictures)
    return (f"## {title}\n\n" + "\n".join(rows) + "\n" + _usage_notes(cells) + _untuned(cells) + _verdicts(cells)
            + (f"\n{images}\n" if images else ""))


def _row(c) -> str:
    figure = paper_figure(c.data.name, c.model) if c.data.name else None
    paper = f"{figure.value:g} {figure.mark}" if figure else ""
    delta = f"{c.test_mean - figure.value:+.{DIGITS.get(c.metric, 3)}f}" if figure else ""
    stops = sorted({stop_text(line) for line in c.lines})
    trends = [t for x in c.lines if x.get("stopped") in CUT_SHORT and (t := trend(x.get("curve"))) is not None]
    mean_trend = sum(trends) / len(trends) if trends else None  # where the cut-short runs still pointed
    epochs = ", ".join(f"{x.get('best_epoch')} / {x.get('epochs')}" for x in c.lines)
    wall = sum(c.seconds) / len(c.seconds)
    name = shown(c) if c.data.name else f"`{shown(c)}`"
    ours = format_number(c.test_mean, c.test_spread, c.metric) + (f" {LOADED_MARK}" if crowded(c) else "")
    return (f"| {name} | {c.model} | {ours} | {len(c.lines)} | "
            f"{paper} | {delta} | {c.params:,} | {c.configs} | {epochs} | {wall:.0f} | {_budget(c)} | "
            f"{', '.join(stops)} | {trend_text(mean_trend)} | {c.data.note} |")


def crowded(c) -> list:
    """The figure's trials that the clock stopped while the machine had more work than CPUs."""
    return [x for x in c.lines if x.get("stopped") == "time limit" and usage.loaded(x.get("load"))]


def _budget(c) -> str:
    """The wall-second budget, and the CPU seconds where the lines record them ("of k" when not all do)."""
    cpu, known = c.cpu_budget
    if not known:
        return f"{c.budget:.0f}"
    return f"{c.budget:.0f} (CPU {cpu:.0f}{'' if known == len(c.every) else f' of {known}/{len(c.every)}'})"


def _usage_notes(cells: list) -> str:
    """Under a table: what the CPU seconds are, and each figure a loaded machine may have worsened."""
    out = []
    if any(c.cpu_budget[1] for c in cells):
        out.append("- *budget s* (CPU N): also the CPU seconds (user + system, every thread) of the trials' "
                   "processes, where their lines record them (\"of k/n\": k of the cell's n trials do).")
    for c in cells:
        for x in crowded(c):
            load = x["load"]
            start = f"; {load['start']:g} at its start" if isinstance(load.get("start"), (int, float)) else ""
            out.append(f"- {LOADED_MARK} {shown(c)}, {c.model}: trial {x['trial'].get('id')} was stopped by its "
                       f"time limit on a loaded machine (1-minute load up to {load['max']:g} on {load['cpus']} "
                       f"CPUs{start}): it trained for fewer core-seconds than the limit gives on an idle "
                       f"machine, so its figure may be worse than the budget allows.")
    return ("\n" + "\n".join(out) + "\n") if out else ""


def _order(item) -> tuple:
    """The paper's order: datasets as in DATASET_NAMES, models as in MODELS, others after."""
    dataset = item.data.key if hasattr(item, "data") else item.dataset
    datasets, models = list(DATASET_NAMES), list(MODELS + CELLS)
    return (datasets.index(dataset) if dataset in datasets else len(datasets), dataset,
            models.index(item.model) if item.model in models else len(models), item.model)


def _untuned(cells: list) -> str:
    """Per dataset: the models that ran one configuration where others were searched over several."""
    out = []
    for key in dict.fromkeys(c.data.key for c in cells):
        here = [c for c in cells if c.data.key == key]
        most = max(c.configs for c in here)
        single = [c.model for c in here if c.configs == 1 and most > 1]
        if single:
            out.append(f"- {shown(here[0])}: {', '.join(single)} ran one configuration, not the search the "
                       f"others had (up to {most} configurations): not comparable as tuned rows.")
    return ("\n" + "\n".join(out) + "\n") if out else ""


def _verdicts(cells: list) -> str:
    """Per dataset: does the best deep variant (on validation) beat the RNN by > 2 SE?"""
    out = []
    for key in dict.fromkeys(c.data.key for c in cells):
        rnn = next((c for c in cells if c.data.key == key and c.model == "RNN"), None)
        deep = [c for c in cells if c.data.key == key and c.model in DEEP]
        if rnn is None or not deep:
            continue
        best = min(deep, key=lambda c: c.valid_mean)
        d = difference(rnn.test, best.test)
        said = {None: "no verdict: a cell has one seed, so no spread to judge the difference by",
                True: f"**beats the RNN by more than {THRESHOLD:g} standard errors**",
                False: f"does **not** beat the RNN by more than {THRESHOLD:g} standard errors"}[d.significant]
        se = "" if d.se is None else f", {THRESHOLD:g} SE = {THRESHOLD * d.se:.3f}"
        out.append(f"- {shown(rnn)}: the best deep variant on validation, {best.model} "
                   f"({format_number(best.test_mean, best.test_spread, best.metric)}, n = {len(best.lines)}), vs "
                   f"the RNN ({format_number(rnn.test_mean, rnn.test_spread, rnn.metric)}, n = {len(rnn.lines)}): "
                   f"lower by {d.gain:.3f}{se}: {said}.")
    return ("\n" + "\n".join(out) + "\n") if out else ""


def _commands(cells: list) -> str:
    """One row per figure trial: the command that reruns it to its figures (`rerun.py`)."""
    if not cells:
        return ""
    rows = ["## Commands\n", "Each figure trial's command that reruns it to the same figures, on the same "
            "machine at the rnnalg commit it ran at (`git checkout COMMIT` first), in the folder the sweep ran in "
            "(the paths of its spec and data file are relative to it): the trial's `rnnalg train` "
            "command with the epochs it finished in place of `--epochs` and `--time-limit` (a time limit "
            "stops where the machine's load lets it), its BLAS thread count, backend and data folder "
            "(`rnnalg/sweep/rerun.py`; lines written before the thread count and backend were recorded "
            "give none).\n", "| cell | seed | command | commit |", "|---|---|---|---|"]
    for c in sorted(cells, key=_order):
        for line in c.lines:
            rows.append(f"| {shown(c)}, {c.model} | {seed_of(line)} | `{_rerun(line)}` | {line.get('commit', '')} |")
    return "\n".join(rows) + "\n"


def _rerun(line: dict) -> str:
    try:
        return rerun_command(line)
    except UsageError:  # a figure's line always has finished epochs; a hand-made one may not
        return line["command"]


def _failures(lines: list) -> str:
    bad = [line for line in lines if line.get("status") not in ("ok", "pruned") or
           (line.get("status") == "ok" and not usable(line))]
    if not bad:
        return ""
    rows = ["## Trials without a test figure\n", "| trial | status | message |", "|---|---|---|"]
    for line in bad:
        message = (line.get("error") or "").splitlines()[0] if line.get("error") else ""
        if line.get("status") == "ok":
            message = f"test {line.get('test')}, best valid {line.get('best_valid')}: not a finite figure"
        rows.append(f"| {line['trial'].get('id')} | {line['status']} | {message.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def _anchors() -> str:
    rows = ["## Other papers on the same splits (context)\n",
            "Not ours and not the paper's models: context for the scale of the figures. "
            "**Q**: quoted by the source the row names (listed under the table); "
            "**R**: recalled, not checked against a source here.\n",
            "| dataset | model | test figure | source |", "|---|---|---|---|"]
    for a in ANCHORS:
        size = f", {a.note}" if a.note else ""
        quoted = f"; quoted by {a.quoted_in}" if a.quoted_in else ""
        figure = f"{a.value:g} {a.mark}"
        rows.append(f"| {DATASET_NAMES[a.dataset]} | {a.model} | {figure} | {a.source}{size}{quoted} |")
    quoting = dict.fromkeys(a.quoted_in for a in ANCHORS if a.quoted_in)
    rows += ["", *(f"- {name}: {QUOTING_SOURCES[name]}" for name in quoting)] if quoting else []
    return "\n".join(rows) + "\n"
