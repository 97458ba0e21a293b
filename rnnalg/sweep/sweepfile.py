"""Reading and checking a sweep file (TOML).  Every mistake names the file and the key
(`rnnalg sweep` adds the key's line: commands/sweep.py, keyline.py); the tables of train flags
are checked by trainflags.py.

    [sweep]
    datasets = ["nottingham", "jsb"]     # named datasets (or paths, relative to this file)
    seeds = [1, 2]                       # one trial per seed (default [1234])
    samples = 1                          # random draws per grid point (default 1)
    search_seed = 0                      # seeds those draws, so a file always gives the same trials
    cpus_per_trial = 1                   # CPUs (and BLAS threads) per trial
    [sweep.asha]                         # optional: ASHA stops poor trials early, per (dataset, model)
    grace_period = 5                     # epochs every trial gets
    reduction_factor = 3                 # keep the best 1/3 at each rung (epochs 5, 15, 45, …)
    max_epochs = 100                     # the last rung (default: the largest --epochs)
    per = "model"                        # whose trials compete: "model" (per dataset and model, the
                                         # default) or "dataset" (all models of a dataset: a search)
    group_by = ["weight_noise"]          # and compete only with the same values of these grid axes
                                         # (flags given as lists, set.NAME, spec): each group has
                                         # its own rungs and keeps its own best 1/3 (groups.py);
                                         # for an axis that starts slowly, e.g. weight noise

    [train]                              # `rnnalg train` flags (underscores) for every trial
    time_limit = 600
    weight_noise = [0.0, 0.02]           # a list is a grid axis
    lr = { loguniform = [3e-4, 3e-3] }   # a random range: uniform or loguniform (float flags)

    [data.piano]                         # flags for one dataset only (overrides [train])
    time_limit = 900

    [model.dots]                         # one table per model; the key names it in trial ids
    label = "DOT(S)"                     # the name in tables (default: the key)
    spec = "../examples/dots.rnn"        # relative to this file; a list is a grid over specs
    set = { H = 200 }                    # `let` sizes; a list is a grid axis
    train = { lr = 1e-3 }                # this model's flags (override [data.*] and [train])

A trial's command line (`--dry-run`, results lines) names a spec or data file by `command_path`:
relative to the folder `rnnalg sweep` runs in, as the sweep file's own path was given
(`rnnalg sweep exp/s.toml` and `../data/x.json` give `data/x.json`), so it can be pasted there.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SweepError
from .groups import check_group_by
# (Random and train_parser are imported from here too: trials.py, worker.py, the tests)
from .trainflags import Random, flag_checker, train_parser, value_kind  # noqa: F401

SECTIONS = ("sweep", "train", "data", "model")
SWEEP_KEYS = ("datasets", "seeds", "samples", "search_seed", "cpus_per_trial", "asha")
ASHA_KEYS = ("grace_period", "reduction_factor", "max_epochs", "per", "group_by")
ASHA_PER = ("model", "dataset")
MODEL_KEYS = ("label", "spec", "set", "train")
_NAME = re.compile(r"[A-Za-z0-9_]+")
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Model:
    name: str
    label: str
    specs: tuple  # of (absolute path, its `command_path`)
    sizes: dict  # NAME -> int or list of int
    train: dict  # flag -> value, list or Random


@dataclass
class SweepFile:
    path: Path
    name: str
    models: list
    datasets: list  # of (name for --data, label)
    seeds: list
    samples: int = 1
    search_seed: int = 0
    cpus_per_trial: int = 1
    asha: dict | None = None
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # dataset label -> flags
    # --data value -> what results lines call it: a named dataset's name, or the path as written
    shown: dict = field(default_factory=dict)
    # --data value of a data file (absolute) -> its path in command lines (`command_path`)
    command_paths: dict = field(default_factory=dict)


def command_path(named_file, written: str, resolved) -> str:
    """The file `written` (relative to `named_file`'s folder, or absolute) as a path that works
    from the current folder, where `named_file` (a sweep or search file, as the user gave it) was
    opened: `exp/s.toml` + `../data/x.json` -> `data/x.json`.  `..` is collapsed only where the
    result is still `resolved` (not after a symbolic link), else kept (`exp/../data/x.json`)."""
    joined = os.path.join(os.path.dirname(str(named_file)), written)
    short = os.path.normpath(joined)
    return short if os.path.realpath(short) == os.path.realpath(resolved) else joined


def read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise SweepError(path, "reading a sweep file needs tomli on Python 3.10 "
                                   "(pip install 'rnnalg[sweep]')") from None
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SweepError(path, f"cannot read: {err.strerror or err}") from None
    if data.startswith(BOM):  # editors on Windows write one; TOML is UTF-8 either way
        data = data[len(BOM):]
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise SweepError(path, f"not UTF-8 text: byte {data[err.start]:#04x} at offset {err.start}") from None
    except tomllib.TOMLDecodeError as err:
        raise SweepError(path, f"not valid TOML: {err}") from None


class _Check:
    """Located checks on the values of one file."""

    def __init__(self, path):
        self.path = path

    def fail(self, key: str, message: str):
        raise SweepError(self.path, message, where=key)

    def table(self, value, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {value_kind(value)}")
        return value

    def known(self, table: dict, key: str, allowed) -> None:
        for k in table:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k,
                          f"unknown key '{k}' (expected one of: {', '.join(allowed)})")

    def ints(self, value, key: str, minimum: int, many: bool):
        values = value if many and isinstance(value, list) else [value]
        if many and isinstance(value, list) and not value:
            self.fail(key, "an empty list gives no trials")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                self.fail(key, f"expected {'integers' if many else 'an integer'} >= {minimum}, got {v!r}")
        return value


def load_sweep(path) -> SweepFile:
    """Read and check `path`; a SweepError names the key of the first mistake."""
    from ..data.dataset import NAMED, _canonical

    path = Path(path)
    raw = read_toml(path)
    c = _Check(path)
    c.known(raw, "", SECTIONS)
    sweep = c.table(raw.get("sweep", {}), "sweep")
    c.known(sweep, "sweep", SWEEP_KEYS)
    names = sweep.get("datasets")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        c.fail("sweep.datasets", "expected a non-empty list of dataset names, e.g. [\"jsb\"]")
    datasets, shown, command_paths = [], {}, {}
    for name in names:
        canonical = _canonical(name)
        if canonical is not None:
            datasets.append((canonical, canonical))
            shown[canonical] = canonical
            continue
        file = (path.parent / name).resolve()
        if not file.exists():
            c.fail("sweep.datasets", f"'{name}' is neither a named dataset ({', '.join(NAMED)}) "
                                     f"nor a file relative to the sweep file")
        datasets.append((str(file), file.stem))
        shown[str(file)] = name
        command_paths[str(file)] = command_path(path, name, file)
    labels = [label for _, label in datasets]
    if len(set(labels)) != len(labels):
        c.fail("sweep.datasets", "a dataset is listed twice")
    seeds = c.ints(sweep.get("seeds", [1234]), "sweep.seeds", 0, many=True)
    seeds = seeds if isinstance(seeds, list) else [seeds]
    twice = next((seed for i, seed in enumerate(seeds) if seed in seeds[:i]), None)
    if twice is not None:  # one trial per seed: a repeated one would be the same trial twice
        c.fail("sweep.seeds", f"seed {twice} is listed twice")
    asha = sweep.get("asha")
    if asha is not None:
        c.known(c.table(asha, "sweep.asha"), "sweep.asha", ASHA_KEYS)
        for k, v in asha.items():
            if k == "per":
                if v not in ASHA_PER:
                    c.fail("sweep.asha.per", f"must be one of {', '.join(map(repr, ASHA_PER))}, not {v!r}")
                continue
            if k == "group_by":  # grid axes: checked once the whole file is read (groups.py)
                continue
            c.ints(v, f"sweep.asha.{k}", 2 if k == "reduction_factor" else 1, many=False)
    flags = flag_checker(c)
    train = flags(c.table(raw.get("train", {}), "train"), "train")
    data = c.table(raw.get("data", {}), "data")
    for label, table in data.items():
        if label not in labels:
            c.fail(f"data.{label}", f"'{label}' is not in sweep.datasets ({', '.join(labels)})")
        flags(c.table(table, f"data.{label}"), f"data.{label}")
    models = [_model(c, flags, key, table, path)
              for key, table in c.table(raw.get("model", {}), "model").items()]
    if not models:
        c.fail("model", "no models: add a [model.NAME] table with a spec")
    result = SweepFile(path=path, name=path.stem, models=models, datasets=datasets, seeds=seeds,
                       samples=c.ints(sweep.get("samples", 1), "sweep.samples", 1, many=False),
                       search_seed=c.ints(sweep.get("search_seed", 0), "sweep.search_seed", 0, many=False),
                       cpus_per_trial=c.ints(sweep.get("cpus_per_trial", 1), "sweep.cpus_per_trial", 1,
                                             many=False),
                       asha=asha, train=train, data=data, shown=shown, command_paths=command_paths)
    check_group_by(result)  # its axes are known once the whole file is read
    return result


def _model(c: _Check, flags, key: str, table, path: Path) -> Model:
    where = f"model.{key}"
    if not _NAME.fullmatch(key):
        c.fail(where, "a model's key may hold only letters, digits and _ (it names run folders); "
                      "use label = \"...\" for the name shown in tables")
    c.known(c.table(table, where), where, MODEL_KEYS)
    spec = table.get("spec")
    shown = spec if isinstance(spec, list) else [spec]
    if spec is None or not shown or not all(isinstance(s, str) for s in shown):
        c.fail(f"{where}.spec", "expected the path of a .rnn file (or a list of them)")
    specs = []
    for s in shown:
        file = (path.parent / s).resolve()
        if not file.is_file():
            c.fail(f"{where}.spec", f"no such file: {s} (paths are relative to the sweep file)")
        specs.append((str(file), command_path(path, s, file)))
    sizes = c.table(table.get("set", {}), f"{where}.set")
    for name, value in sizes.items():
        c.ints(value, f"{where}.set.{name}", 1, many=True)
    label = table.get("label", key)
    if not isinstance(label, str):
        c.fail(f"{where}.label", f"expected a string, got {value_kind(label)}")
    return Model(key, label, tuple(specs), dict(sizes), flags(c.table(table.get("train", {}),
                                                                      f"{where}.train"), f"{where}.train"))
