"""What a training run shows and leaves behind besides checkpoints.

* a tqdm progress bar per epoch on stderr (batches done of the total, ETA, loss,
  frames|chars|words per second); when stderr is not a terminal (a log file, a
  scheduler), a plain line with the same figures every `progress_interval` seconds
  (10); nothing with `quiet`;
* one printed line per epoch on stdout (off with `quiet`): the metric on train (the mean
  over the epoch's batches, with dropout and weight noise) and on valid;
* `metrics.jsonl`: one JSON object per finished epoch, rewritten atomically from the
  history held in the checkpoint (so it never disagrees with `last.json`);
* `curve.png`: the metric on train (during the epoch) and valid per epoch, the lr halvings and the
  best epoch, titled with the spec and the data, when matplotlib is installed.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..atomic import write_atomic


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, *_, **__):
        pass

    def close(self):
        pass


def _clock(seconds: float) -> str:
    """3725.2 -> '1:02:05', 65 -> '1:05'."""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Lines:
    """The progress bar's figures as a plain line every `interval` seconds (for log files):

        epoch 3: 120/580 batches (21%), 0:12 elapsed, ETA 0:46, loss 7.931, frames/s 18,006
    """

    def __init__(self, err, epoch: int, total: int, done: int, interval: float):
        self.err, self.epoch, self.total, self.n, self.interval = err, epoch, total, done, interval
        self.start_n, self.postfix = done, {}
        self.started = self.last = time.monotonic()

    def update(self, n=1):
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            elapsed = now - self.started
            eta = elapsed / max(1, self.n - self.start_n) * max(0, self.total - self.n)
            extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
            print(f"epoch {self.epoch}: {self.n}/{self.total} batches ({100 * self.n // max(1, self.total)}%), "
                  f"{_clock(elapsed)} elapsed, ETA {_clock(eta)}{extra}", file=self.err, flush=True)

    def set_postfix(self, postfix, refresh=False):
        self.postfix = dict(postfix)

    def close(self):
        pass


class Monitor:
    def __init__(self, run_dir, metric_label: str, unit_plural: str, quiet: bool = False,
                 out=None, err=None, to_metric=lambda mean_nll: mean_nll, title: str = ""):
        self.run_dir = Path(run_dir)
        self.metric_label, self.units = metric_label, unit_plural
        self.to_metric = to_metric  # mean NLL per position (nats) -> the validation metric
        self.title = title  # of curve.png: the spec and the data
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.progress_interval = 10.0  # seconds between progress lines when stderr is no terminal
        self._plot_skipped = False

    # -- progress bar -------------------------------------------------------------------

    def bar(self, epoch: int, total: int, done: int = 0):
        """Progress over the `total` batches of an epoch, `done` of them already (a resumed epoch)."""
        if self.quiet:
            return _NoBar()
        if not getattr(self.err, "isatty", lambda: False)():
            return _Lines(self.err, epoch, total, done, self.progress_interval)
        from tqdm import tqdm

        return tqdm(total=total, initial=done, desc=f"epoch {epoch}", unit="batch", leave=False,
                    file=self.err, dynamic_ncols=True)

    def batch_postfix(self, bar, loss: float, rate: float) -> None:
        bar.set_postfix({"loss": f"{loss:.3f}", f"{self.units}/s": f"{rate:,.0f}"}, refresh=False)

    # -- per-epoch output ---------------------------------------------------------------

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A message that matters even in quiet mode (stderr)."""
        print(text, file=self.err, flush=True)

    def epoch_line(self, record: dict, epochs: int, improved: bool) -> None:
        self.say(f"epoch {record['epoch']:>3}/{epochs}  {self.metric_label}: "
                 f"train {self.to_metric(record['train_loss']):.4f}  "
                 f"valid {record['valid']:.4f}{' *' if improved else '  '}  "
                 f"lr {record['lr']:.3g}  {record['seconds']:.1f}s  "
                 f"{record['rate']:,.0f} {self.units}/s")

    def write_metrics(self, history: list) -> None:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in history)
        write_atomic(self.run_dir, "metrics.jsonl", lambda f: f.write(text.encode()))

    # -- learning curve -----------------------------------------------------------------

    def plot(self, history: list) -> None:
        if not history:
            return
        try:
            fig = curve_figure(history, self.metric_label, self.to_metric, self.title)
        except ImportError:
            if not self._plot_skipped:
                self.note("note: matplotlib is not installed; skipping the learning-curve plot "
                          "(pip install matplotlib)")
                self._plot_skipped = True
            return
        write_atomic(self.run_dir, "curve.png", lambda f: fig.savefig(f, format="png", dpi=100, bbox_inches="tight"))


def curve_figure(history: list, metric_label: str, to_metric=lambda x: x, title: str = ""):
    """The learning curve of `history` (metrics.jsonl records): train and valid per epoch, a dotted
    line after each epoch whose end halved the lr, and the best-validation epoch marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    valid = [r["valid"] for r in history]
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(epochs, [to_metric(r["train_loss"]) for r in history],
            label=f"train {metric_label} (during the epoch, noisy)")
    ax.plot(epochs, valid, label=f"valid {metric_label}")
    halved = [a["epoch"] for a, b in zip(history, history[1:]) if b.get("lr", 0) < a.get("lr", 0)]
    for k, epoch in enumerate(halved):
        ax.axvline(epoch + 0.5, color="grey", ls=":", lw=1, label="lr halved" if k == 0 else None)
    best = min(range(len(valid)), key=valid.__getitem__)
    ax.plot([epochs[best]], [valid[best]], "*", color="black", ms=10,
            label=f"best valid {valid[best]:.4f} (epoch {epochs[best]})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric_label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or "learning curve", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)  # off the data
    ax.grid(alpha=0.3)
    return fig


def curve_title(model, dataset) -> str:
    """'dts.rnn on jsb (JSB_Chorales.json)': the spec's file, the data's name and the file it came from."""
    spec = Path(str(getattr(model.program, "file", "") or "")).name or "the spec"
    source = Path(str(dataset.source or "")).name
    return f"{spec} on {dataset.name}" + (f" ({source})" if source and source != dataset.name else "")
