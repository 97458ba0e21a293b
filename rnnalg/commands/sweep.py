"""`rnnalg sweep FILE`: run a sweep file's trials on Ray Tune (rnnalg.sweep), print the table.

Locally by default (`--cpus`, default all cores; `cpus_per_trial` in the file); `--address`
runs the same sweep on an existing Ray cluster (OUT must then be on storage every node sees).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import SweepError, UsageError

TAKES_SPEC = False
# shown under `rnnalg sweep --help`; the full reference is rnnalg/sweep/sweepfile.py's docstring
EPILOG = """\
ASHA (optional) stops poor trials early; in the sweep file:
  [sweep.asha]
  grace_period = 10      epochs every trial gets (the first rung)
  reduction_factor = 3   keep the best 1/3 at each rung (epochs 10, 30, 90, ...)
  max_epochs = 200       the last rung (default: the largest epochs flag)
  per = "model"          trials compete per (dataset, model); "dataset": all
                         models of a dataset compete (a search)
  group_by = ["weight_noise"]
                         ... and only with trials of the same values of these
                         grid axes (flags given as lists, set.NAME, spec): each
                         group has its own rungs, so trials that start slowly
                         (weight noise) are not all stopped at the first rung
--dry-run lists the groups; the full reference is the docstring of
rnnalg/sweep/sweepfile.py."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("file", help="the sweep file (TOML), e.g. experiments/music.toml")
    a("--out", metavar="DIR", help="the sweep's folder: run folders, Tune state, results "
                                   "(default sweeps/<file stem>)")
    a("--results", metavar="FILE", help="the results JSONL (default OUT/results.jsonl)")
    a("--resume", action="store_true", help="continue the sweep in OUT: finished trials are kept, "
                                            "unfinished ones continue from their checkpoints")
    a("--force", action="store_true", help="start over, deleting this sweep's earlier state in OUT")
    a("--data-dir", metavar="DIR", help="a data folder searched before $RNNALG_DATA and the cache (PTB); "
                                        "see `rnnalg data list`")
    a("--cpus", metavar="N", help="CPUs of the local Ray (default: all)")
    a("--address", metavar="ray://HOST:PORT|auto", help="run on an existing Ray cluster instead")
    a("--dry-run", action="store_true", help="list the trials (id, parameters, command) and ASHA's groups; run none")
    a("--verbose", action="store_true", help="also print each trial's validation figure after every epoch")
    a("--standings", action="store_true",
      help="without Ray or training: add to the results file a line for each unfinished trial in OUT "
           "with a best checkpoint, its figures as it stands (stopped \"interrupted\"); a later line of "
           "the trial supersedes it")


def require_ray(command: str = "rnnalg sweep") -> None:
    """UsageError naming the extra unless Ray Tune imports: checked before anything is written
    (by `rnnalg sweep`, and by `rnnalg search` before its candidates)."""
    try:
        import ray.tune  # noqa: F401
    except ImportError:
        raise UsageError(f"{command} needs Ray Tune: pip install 'rnnalg[sweep]'") from None


def run(args: argparse.Namespace) -> int:
    from ..sweep.lock import ResultsLock

    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    standings = getattr(args, "standings", False)  # (`rnnalg search` calls with a Namespace of its own)
    given = [flag for flag in ("resume", "force", "address", "cpus", "verbose") if getattr(args, flag, None)]
    if standings and given:
        raise UsageError(f"--standings trains nothing and runs no Ray: drop --{given[0].replace('_', '-')}")
    data_dir = args.data_dir or os.environ.get("RNNALG_DATA")
    sweep, trials, programs = _read(args, data_dir)
    _check_data_files(trials, data_dir)
    if standings:
        return _standings(args, sweep, trials, programs, data_dir)
    if args.dry_run:
        for t in trials:
            print(f"{t.id}  {programs[t.id].param_count:,} parameters  {t.command()}")
        if sweep.asha is not None:  # which trials compete at ASHA's rungs
            from ..sweep.groups import describe_groups

            print("\n".join(describe_groups(trials, sweep.asha)))
        print(f"{len(trials)} trials")
        return 0
    require_ray()
    _check_cpus(args, sweep)
    if args.address is not None:
        from ..sweep.connect import check_address

        check_address(args.address)  # before anything is written: a wrong address leaves --out free
    out = Path(args.out or Path("sweeps") / sweep.name).resolve()
    results = Path(args.results).resolve() if args.results else out / "results.jsonl"
    try:
        results.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--results {results}: cannot create its folder: {err.strerror or err}") from None
    with ResultsLock(results, out):  # one sweep at a time writes a results file
        return _run_locked(args, sweep, trials, programs, out, results, data_dir)


def _read(args, data_dir):
    """(the sweep file, its trials, their checked programs by trial id); every SweepError of the file, from
    reading it, expanding its grid or sizing its specs, gets its key's line here (keyline.py), or
    where `args.locate` says (`rnnalg search`: the search file's keys in the search file)."""
    from ..sweep.keyline import with_line
    from ..sweep.sweepfile import load_sweep
    from ..sweep.trials import check_specs, expand

    try:
        sweep = load_sweep(args.file)
        # a data file as the user gave it (`rnnalg search`: in the search file, not its sweep.toml)
        sweep.shown.update(getattr(args, "data_shown", None) or {})
        sweep.command_paths.update(getattr(args, "data_command_paths", None) or {})
        trials = expand(sweep, str(Path(data_dir).resolve()) if data_dir else None)
        return sweep, trials, check_specs(trials, sweep.path)
    except SweepError as err:
        raise (getattr(args, "locate", None) or with_line)(err) from None


def _check_cpus(args, sweep) -> None:
    cores = os.cpu_count() or 1
    if args.address is None and args.cpus and args.cpus > cores:
        print(f"rnnalg sweep: warning: --cpus {args.cpus} is more than this machine's {cores} cores: "
              f"up to {args.cpus // sweep.cpus_per_trial} trials will share them", file=sys.stderr)
    if args.address is None and sweep.cpus_per_trial > (args.cpus or cores):
        from ..sweep.keyline import key_at

        raise UsageError(f"{key_at(args.file, 'sweep.cpus_per_trial', getattr(args, 'locate', None))} = "
                         f"{sweep.cpus_per_trial} is more than the {args.cpus or cores} CPUs of the local Ray "
                         f"(--cpus): no trial could start")


def _run_locked(args, sweep, trials, programs, out: Path, results: Path, data_dir) -> int:
    """Check OUT, end what a killed sweep of OUT left running, then run the trials on Ray."""
    import signal

    import ray

    from ..sweep import leftovers, runner
    from ..sweep.results import format_table, holds_no_lines

    runner.check_out(out, trials, resume=args.resume, force=args.force, asha=sweep.asha)
    # (an empty file, which a sweep of before wrote at its start, holds none: runner.run removes it)
    if results.exists() and not (args.resume or args.force) and not holds_no_lines(results):
        raise UsageError(f"--results {results}: already holds results; continue that sweep with --resume, "
                         f"or overwrite them with --force")
    ended = leftovers.clean_leftovers(out)
    if ended:
        print(f"ended {len(ended)} Ray processes that an earlier, killed sweep of {out} left running: "
              f"{', '.join(ended[:4])}{' …' if len(ended) > 4 else ''}", file=sys.stderr)
    params, info, fields = _line_fields(args, sweep, trials, programs, data_dir)
    where = f"Ray at {args.address}" if args.address else f"local Ray, {args.cpus or os.cpu_count()} CPUs"
    counts = (_count(len(sweep.models), "model"), _count(len(sweep.datasets), "dataset"),
              _count(len(sweep.seeds), "seed"), _count(len({t.config_id for t in trials}), "configuration"))
    print(f"sweep {args.file}: {_count(len(trials), 'trial')} ({' × '.join(counts[:3])}, {counts[3]}); "
          f"{where}, {sweep.cpus_per_trial} per trial; results {results}", flush=True)
    ours = not ray.is_initialized()  # a Ray this process already runs (tests) is left running
    sigterm = signal.getsignal(signal.SIGTERM)
    runner.TERMINATED.clear()
    try:
        runner.start_ray(args.address, args.cpus, sweep.cpus_per_trial)
        if args.address is None and ours:
            out.mkdir(parents=True, exist_ok=True)
            leftovers.record_local_ray(out)
        runner.prepare_out(out, trials, resume=args.resume, force=args.force, asha=sweep.asha)
        if args.force:
            _drop_own_lines(results, out, trials)
        lines = runner.run(trials, params, out, results, info, resume=args.resume,
                           cpus_per_trial=sweep.cpus_per_trial, asha=sweep.asha, verbose=args.verbose,
                           data=fields)
    except KeyboardInterrupt:  # a signal outside Tune's experiment (Tune handles those inside)
        print(f"rnnalg sweep: {'terminated' if runner.TERMINATED else 'interrupted'}; continue with: "
              f"{_resume_command(args)}", file=sys.stderr)
        return 143 if runner.TERMINATED else 130
    finally:
        if ours:
            _stop_ray(out, local=args.address is None)
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)
    print(format_table(lines))
    unfinished = len(trials) - len(lines)
    if unfinished:
        print(f"{unfinished} trials unfinished; continue with: {_resume_command(args)}")
        return 143 if runner.TERMINATED else 130  # SIGTERM, as `timeout` and schedulers send it
    return 0


def _line_fields(args, sweep, trials, programs, data_dir) -> tuple:
    """(parameter counts, the sweep's info, data and spec fields), by trial id, of the trials'
    results lines: what `runner.run` and `--standings` (standings.py) write alike."""
    from ..sweep.results import commit_of_rnnalg, data_fields
    from ..sweep.trials import spec_fingerprints

    fields = data_fields(trials, sweep.shown, data_dir)
    extra = getattr(args, "model_fields", None) or {}  # model key -> more fields of its lines (`rnnalg search`)
    specs = spec_fingerprints(programs)  # what a report tells two lines of one trial apart by (collect.py)
    fields = {t.id: {**fields[t.id], "spec_fingerprint": specs[t.id], **extra.get(t.model, {})} for t in trials}
    params = {tid: program.param_count for tid, program in programs.items()}
    info = {"sweep": str(args.file), "commit": commit_of_rnnalg(), "rnnalg": _version()}
    return params, info, fields


def _standings(args, sweep, trials, programs, data_dir) -> int:
    """`--standings`: the unfinished trials' lines as they stand (standings.py), under the results lock."""
    from ..sweep import standings
    from ..sweep.lock import ResultsLock

    out = Path(args.out or Path("sweeps") / sweep.name).resolve()
    results = Path(args.results).resolve() if args.results else out / "results.jsonl"
    standings.check_paths(out, results, trials)  # before the minutes a test split takes
    if args.dry_run:  # which trials it would evaluate, and why not the others
        for trial, why in standings.plan(trials, out, results):
            print(f"{trial.id}: {why or 'would be evaluated (best checkpoint, no final line)'}")
        return 0
    with ResultsLock(results, out):
        params, info, fields = _line_fields(args, sweep, trials, programs, data_dir)
        lines = standings.write_standings(trials, programs, out, results, params, info, fields)
    print(f"{len(lines)} interim line{'' if len(lines) == 1 else 's'} in {results}; a later line of each "
          f"trial supersedes it (continue the sweep with: {_resume_command(args)})")
    return 0


def _resume_command(args) -> str:
    import shlex

    words = ["rnnalg", "sweep", args.file, "--resume"]
    for flag in ("out", "results", "data_dir", "cpus", "address"):
        value = getattr(args, flag)
        if value is not None:
            words += ["--" + flag.replace("_", "-"), str(value)]
    return shlex.join(words)


def _drop_own_lines(results: Path, out: Path, trials) -> None:
    """--force starts this sweep's lines over; other sweeps' lines in the same file stay (a file
    left without a line is removed: the sweep writes it again with its first line)."""
    from ..sweep.results import read_lines, write_lines
    from ..sweep.runner import interim_of, own_line

    if results.exists():
        known = {t.id for t in trials}
        kept = [line for line in read_lines(results)  # its trials' interim lines go too (--standings)
                if not own_line(line, out, known) and interim_of(line, trials) is None]
        if kept:
            write_lines(results, kept)
        else:
            results.unlink()


def _stop_ray(out: Path, local: bool) -> None:
    import ray

    from ..sweep import leftovers

    ray.shutdown()
    if local:
        leftovers.forget_local_ray(out)


def _check_data_files(trials, data_dir) -> None:
    """Before any trial starts (and in --dry-run): every named dataset is found, as a trial will
    look for it, and every data file loads as a trial will load it (its --unit and --min-count),
    so an empty, binary or malformed one is the loader's error naming the file and position, not
    a failed line for each of its trials."""
    from ..data import folders, registry
    from ..data.dataset import NAMED, load_dataset

    for name in dict.fromkeys(t.dataset for t in trials):
        if name in NAMED and registry.embedded_path(name) is None:
            folders.find(name, NAMED[name].paths, data_dir, registry.ORIGINS[name].fetch_command())
    for file, unit, min_count in dict.fromkeys((t.dataset, t.flags.get("unit"), int(t.flags.get("min_count", 1)))
                                               for t in trials if t.dataset not in NAMED):
        load_dataset(file, data_dir=data_dir, unit=unit, min_count=min_count)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _version() -> str:
    from .. import __version__

    return __version__
