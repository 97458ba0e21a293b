"""Sweeps (DESIGN §4): a table of training runs described by one TOML file, run on Ray Tune.

A sweep file names models (a spec and its `let` sizes), datasets, `rnnalg train` flags, seeds
and search spaces.  `expand` turns it into **trials**, the product

    trials = models × datasets × grid points × random samples × seeds

in a fixed order, with random values drawn from the file's own seed, so the same file always
gives the same trials with the same ids.  A trial is exactly one `rnnalg train` command line
(`Trial.command()`): the sweep calls the ordinary train command on it inside a Ray Tune worker,
with its own run directory `OUT/runs/<trial id>/` (the usual `best`/`last` checkpoints, so
`rnnalg eval`/`sample` work on it), and reports the validation metric to Tune after each epoch.

A **results line** (one JSON object per trial in `OUT/results.jsonl`) holds: the trial (id, model,
dataset, spec, sizes, flags, seed, the command), the parameter count, the status (`ok`, `failed`
with its message, `pruned` by ASHA), the metric's name, the best validation figure and its epoch,
the test figure of the best-validation parameters over the whole test split, the epochs run, the
stop reason, the wall seconds, the validation curve, the rnnalg version and commit, the data
(`data_label`, `data_fingerprint`: see `rnnalg.data.fingerprint`) and the Ray node that ran it.
One sweep at a time writes a results file (`lock.py`); lines of other sweeps in it are kept.

**Resume** (`rnnalg sweep FILE --resume`) is per trial: a trial with a results line (finished,
failed or pruned) is not run again and keeps its line; every other one runs on Tune again and
continues from its `last` checkpoint exactly as `rnnalg train --resume` does (at most the
unfinished epoch is redone, and the numbers are those of an uninterrupted run), with what remains
of its time limit.  A worker that dies is retried once by Tune, the same way.  ASHA's rungs
start with the epochs the earlier trials reported (`rungs.py`), so the resumed trials are pruned
as in an uninterrupted sweep.

**Standings** (`rnnalg sweep FILE --standings`, `standings.py`): the unfinished trials' lines as
they stand, without Ray or training (each trial's best parameters so far on the test split,
`"stopped": "interrupted"`); a later line of the trial supersedes such an interim line, in the
results file, on `--resume` (which does not count it as finished) and in `rnnalg report`.
"""
