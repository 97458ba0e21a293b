"""`rnnalg search FILE [--out DIR] [--dry-run] [--cpus N] [--address …]`: architecture search over the
algebra, trained through the sweep machinery (Ray Tune, ASHA).

A search file is a sweep file (rnnalg/sweep/sweepfile.py) whose models come from a `[search]` table:

    [search]
    seeds = ["../examples/dts.rnn", "../examples/dots.rnn"]   # relative to this file
    labels = ["DT(S)", "DOT(S)"]         # names of the seeds in tables (default: file stems)
    size = "H"                           # the `let` sized to the budget
    budget = 231088                      # parameters per candidate (at most MAX_BUDGET, 10^9)
    rounds = 1                           # moves applied in sequence (1: neighbours of the seeds;
                                         # they stop at a round that finds no new candidate)
    max_candidates = 60                  # the first N distinct candidates, seeds first (at most
                                         # a sweep's MAX_TRIALS, 10,000: each one is a trial)
    moves = ["deepen_transition", "add_shortcut", "deepen_output", "stack", "deepen_input",
             "swap_activation"]          # default: all

    [sweep]  /  [train]  /  [data.NAME]  as in a sweep file (no [model.*] tables); a data file in
                                         `datasets` is relative to this file, and results lines and
                                         tables name it as written here (`data_files`), trial
                                         commands as a sweep's do (`sweepfile.command_path`)

OUT (default sweeps/<file stem>) gets `candidates/cNNN.rnn` (each checked and distinct by the
canonical form), `candidates.jsonl` (name, seed, moves, size, parameters, canonical digest, spec
text) and `sweep.toml`, the sweep file of all candidates; `rnnalg sweep` runs that file.
The search's results lines carry the same description of their candidate under `search` (with
the search file and the name of the sized `let`), which `rnnalg report` reads (sweep/search_results.py).
`--dry-run` writes the candidates and lists the trials without training.  A variant that no size
fits (algebra/search.py `Unsized`) is not a candidate: the listing names it (`not sized, not trained`).
Every mistake in the search file names the search file, the key and its line (`sweep/keyline.py`):
one in [search] (`s.toml: line 4: search.budget: error: …`; a seed that cannot be read is
`search.seeds`, a size a seed does not `let` or its parameters do not depend on is `search.size`, a
budget below a seed's parameters at that size = 1 is `search.budget`), and one in the [sweep], [train] or
[data.*] tables found when the generated sweep file is read or run (`cpus_per_trial` above --cpus),
not the generated file. A seed the checker refuses is an error at its place in the seed.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import SpecError, SweepError, UsageError

TAKES_SPEC = False
SEARCH_KEYS = ("seeds", "labels", "size", "budget", "rounds", "max_candidates", "moves")
GIVEN_SECTIONS = ("sweep", "train", "data")  # the generated sweep file's tables that are the search file's
SHOWN_UNSIZED = 10  # variants that no size fits, named in full (then counted)
MAX_BUDGET = 10**9  # parameters a candidate: 4 GB of float32 weights, 16 GB with gradients and Adam's moments


def integer_rules() -> dict:
    """The [search] table's integers: key -> (default, least, largest accepted or None, why not more)."""
    from ..sweep.trials import MAX_TRIALS

    return {
        "budget": (None, 1, MAX_BUDGET, "4 GB of float32 weights a candidate, 16 GB with their gradients "
                                        "and Adam's moments (the paper's largest model has 6.1 M parameters)"),
        "rounds": (1, 0, None, ""),  # the candidates bound the work: a round without a new one is the last
        "max_candidates": (60, 1, MAX_TRIALS, f"each candidate is at least one trial, and a sweep runs at "
                                              f"most {MAX_TRIALS:,}"),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("file", help="the search file (TOML), e.g. experiments/search_jsb.toml")
    a("--out", metavar="DIR", help="the search's folder (default sweeps/<file stem>)")
    a("--dry-run", action="store_true", help="write and list the candidates and their trials; train nothing")
    a("--resume", action="store_true", help="continue the search's sweep in OUT")
    a("--force", action="store_true", help="start over, deleting the search's earlier state in OUT")
    a("--data-dir", metavar="DIR", help="a data folder searched before $RNNALG_DATA and the cache")
    a("--cpus", metavar="N", help="CPUs of the local Ray (default: all)")
    a("--address", metavar="ray://HOST:PORT|auto", help="run on an existing Ray cluster instead")
    a("--verbose", action="store_true", help="print each trial's validation figure after every epoch")


def read_search(path: Path) -> tuple[dict, dict]:
    """(the [search] table checked, the rest of the file): a SweepError names the key (its line:
    `run`, by keyline.with_line)."""
    from ..algebra.moves import MOVES
    from ..sweep.sweepfile import read_toml

    raw = read_toml(path)
    if "model" in raw:
        raise SweepError(path, "a search file has no [model.*] tables: its models are the candidates",
                         where="model")
    table = raw.pop("search", None)
    if not isinstance(table, dict):
        raise SweepError(path, "no [search] table (seeds, size, budget)", where="search")
    unknown = sorted(set(table) - set(SEARCH_KEYS))
    if unknown:
        raise SweepError(path, f"unknown key (expected one of {', '.join(SEARCH_KEYS)})", where=f"search.{unknown[0]}")
    seeds = table.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, str) for s in seeds):
        raise SweepError(path, "expected a non-empty list of spec files", where="search.seeds")
    labels = table.get("labels", [Path(s).stem for s in seeds])
    if not isinstance(labels, list) or len(labels) != len(seeds) or not all(isinstance(s, str) for s in labels):
        raise SweepError(path, "expected one label (a string) per seed", where="search.labels")
    for key, (default, least, most, why) in integer_rules().items():
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise SweepError(path, f"expected {'an integer >= 0' if least == 0 else 'a positive integer'}",
                             where=f"search.{key}")
        if most is not None and value > most:
            raise SweepError(path, f"{value:,} is more than the largest accepted, {most:,}: {why}",
                             where=f"search.{key}")
        table[key] = value
    if not isinstance(table.get("size"), str):
        raise SweepError(path, "expected the name of a `let` size, e.g. \"H\"", where="search.size")
    moves = table.get("moves", list(MOVES))
    if not isinstance(moves, list) or not all(m in MOVES for m in moves):
        raise SweepError(path, f"expected a list of moves from {', '.join(MOVES)}", where="search.moves")
    table.update(labels=labels, moves=moves)
    return table, raw


def load_seeds(path: Path, table: dict) -> list:
    """[(label, syntax.Spec)] of the seeds, each read and checked (a checker error is located in
    the seed file), each with the `let` the budget sizes and within the budget at that size = 1;
    a SweepError names the search key."""
    from ..checking import check
    from ..front.parser import load

    seeds = []
    for label, name in zip(table["labels"], table["seeds"]):
        try:
            spec = load(path.parent / name)
        except SpecError as err:
            if err.first.span is not None:  # located in the seed file itself
                raise
            raise SweepError(path, err.first.message, where="search.seeds") from None
        sizes = dict(check(spec).sizes)
        if table["size"] not in sizes:
            raise SweepError(path, f"{name} has no `let {table['size']}` to size to the budget "
                                   f"(its sizes: {', '.join(sizes) or 'none'})", where="search.size")
        least = check(spec, {**sizes, table["size"]: 1}).param_count
        # (a parameter count is a polynomial in the sizes with coefficients >= 0: the same at 1 and 2, constant)
        if check(spec, {**sizes, table["size"]: 2}).param_count == least:
            raise SweepError(path, f"{name}'s {least:,} parameters do not depend on {table['size']}: "
                                   f"no value of it sizes the seed to the budget", where="search.size")
        if least > table["budget"]:  # no size meets it: the seed would keep its own
            raise SweepError(path, f"{table['budget']:,} parameters is below {name}'s {least:,} at "
                                   f"{table['size']} = 1", where="search.budget")
        seeds.append((label, spec))
    return seeds


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} in TOML")


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def data_files(rest: dict, search_file: Path) -> dict:
    """{absolute path: the path as the search file gives it} of its [sweep] datasets that are
    files, not named datasets (relative to the search file); the generated sweep.toml names the
    absolute path, the results lines (`data_label`) and tables the given one, as `rnnalg sweep`
    does.  A file that does not exist is a SweepError naming `sweep.datasets` and the path as given."""
    from ..data.dataset import NAMED, _canonical

    datasets = rest.get("sweep", {}).get("datasets") if isinstance(rest.get("sweep"), dict) else None
    files = {}
    for given in datasets if isinstance(datasets, list) else []:
        if not isinstance(given, str) or _canonical(given) is not None:
            continue  # a named dataset (or a mistake the sweep file's reader names)
        file = (search_file.parent / given).resolve()
        if not file.exists():
            raise SweepError(search_file, f"'{given}' is neither a named dataset ({', '.join(NAMED)}) "
                                          f"nor a file relative to the search file", where="sweep.datasets")
        files[str(file)] = given
    return files


def sweep_toml(rest: dict, candidates, size: str, search_file: Path) -> str:
    """The sweep file of the candidates: the search file's [sweep], [train], [data.*] and one
    [model.cNNN] per candidate (its spec in candidates/, its solved size)."""
    sweep = dict(rest.get("sweep", {}))
    if isinstance(sweep.get("asha"), dict):  # the candidates compete with each other (scheduler.py)
        sweep["asha"] = {"per": "dataset", **sweep["asha"]}
    if isinstance(sweep.get("datasets"), list):  # a data file named relative to the search file
        resolved = {given: file for file, given in data_files(rest, search_file).items()}
        sweep["datasets"] = [resolved.get(d, d) if isinstance(d, str) else d for d in sweep["datasets"]]
    lines = [f"# generated by `rnnalg search {search_file}`: {len(candidates)} candidates", "", "[sweep]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in sweep.items()]
    lines += ["", "[train]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in rest.get("train", {}).items()]
    for name, flags in rest.get("data", {}).items():
        lines += ["", f"[data.{_toml_key(name)}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in flags.items()]
    for c in candidates:
        lines += ["", f"[model.{c.name}]", f"label = {_toml_value(c.label)}",
                  f"spec = {_toml_value(f'candidates/{c.name}.rnn')}"]
        lines.append(f"set = {{ {size} = {c.size} }}    # {c.parameters:,} parameters")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from ..algebra.search import candidates as find_candidates
    from ..atomic import write_atomic
    from ..sweep.keyline import with_line
    from ..sweep.sweepfile import command_path
    from . import sweep as sweep_command

    if args.resume and args.force:  # before anything is written
        raise UsageError("--resume and --force exclude each other")
    path = Path(args.file)
    try:
        table, rest = read_search(path)
        seeds = load_seeds(path, table)
        shown = data_files(rest, path)
    except SweepError as err:  # the [search] table's keys, at their lines
        raise with_line(err) from None
    if not args.dry_run:  # no candidates written for a sweep that cannot run
        sweep_command.require_ray("rnnalg search (it trains through rnnalg sweep)")
    out = Path(args.out or Path("sweeps") / path.stem)
    try:  # before the candidates are generated (minutes in a large search)
        (out / "candidates").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out {out}: cannot create its candidates/ folder: {err.strerror or err}") from None
    found, tally = find_candidates(seeds, table["size"], table["budget"], table["rounds"],
                                   table["max_candidates"], tuple(table["moves"]))
    for c in found:
        write_atomic(out / "candidates", f"{c.name}.rnn", lambda f, c=c: f.write(
            f"# {c.name}: {c.label}\n# {c.parameters:,} parameters at {table['size']} = {c.size}\n{c.text}".encode()))
    described = {c.name: {"name": c.name, "seed": c.seed, "moves": list(c.moves), "size": c.size,
                          "parameters": c.parameters, "canonical": c.canonical, "spec": c.text} for c in found}
    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in described.values())
    write_atomic(out, "candidates.jsonl", lambda f: f.write(lines.encode()))
    write_atomic(out, "sweep.toml", lambda f: f.write(sweep_toml(rest, found, table["size"], path).encode()))
    print(f"search {path}: {len(found)} distinct candidates ({tally.generated} variants generated, "
          f"{tally.invalid} refused by the checker, {tally.duplicates} duplicates by the canonical form, "
          f"{len(tally.unsized)} that no {table['size']} sizes to the budget); {out / 'candidates.jsonl'}")
    for c in found:
        print(f"  {c.name}  {c.parameters:>9,}  {table['size']}={c.size}  {c.label}")
    for why in tally.unsized[:SHOWN_UNSIZED]:
        print(f"  not sized, not trained: {why}")
    if len(tally.unsized) > SHOWN_UNSIZED:
        print(f"  not sized, not trained: … and {len(tally.unsized) - SHOWN_UNSIZED} more")
    fields = {name: {"search": {"file": str(path), "size_name": table["size"], **d}} for name, d in described.items()}
    sweep_args = argparse.Namespace(file=str(out / "sweep.toml"), out=str(out), results=None, resume=args.resume,
                                    force=args.force, data_dir=args.data_dir, cpus=args.cpus,
                                    address=args.address, dry_run=args.dry_run, verbose=args.verbose,
                                    model_fields=fields, data_shown=shown,
                                    data_command_paths={file: command_path(path, given, file)
                                                        for file, given in shown.items()},
                                    locate=lambda err: in_search_file(err, out / "sweep.toml", path))
    return sweep_command.run(sweep_args)


def in_search_file(err: SweepError, generated: Path, search_file: Path) -> SweepError:
    """`err` of the generated sweep file, located in the search file when its key is one the
    search file gave (`sweep.asha.group_by` -> `search.toml: line 14: sweep.asha.group_by`),
    else at its line in the generated file (`sweep.toml: line 40: model.c001.set.H`)."""
    from ..sweep.keyline import with_line

    if Path(err.file) == generated and err.where and err.where.split(".")[0] in GIVEN_SECTIONS:
        return with_line(err, search_file)
    return with_line(err)
