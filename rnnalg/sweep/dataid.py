"""Which data a results line was trained on, and whether it may stand beside the paper's figure.

Results lines carry `data_label` (a named dataset's name, or the path as given) and
`data_fingerprint` (hex sha256 of the data as loaded; `rnnalg.data.fingerprint`).  A line is
put beside the paper's figure for dataset NAME only when its fingerprint is
`KNOWN_FINGERPRINTS[NAME]`.  Three other cases:

* no fingerprint (lines written before the field existed, all on named datasets): compared as
  before, marked "not fingerprinted";
* data given by path: labelled by that path, never compared;
* a named label whose fingerprint is not the named set's (or no table to check it against):
  labelled with the fingerprint's first digits, never compared.
"""
from __future__ import annotations

from dataclasses import dataclass

NOT_FINGERPRINTED = "not fingerprinted"
SHOWN_DIGITS = 12  # of a fingerprint, in labels


@dataclass(frozen=True)
class DataId:
    key: str  # what groups lines into one cell's dataset
    name: str | None  # the named dataset whose paper figures apply, or None: never compared
    note: str  # "" (verified), NOT_FINGERPRINTED, or why it is not compared


def known_fingerprints() -> dict:
    """{dataset name: sha256}, or {} where this rnnalg has no table (every fingerprint unknown)."""
    try:
        from ..data.fingerprint import KNOWN_FINGERPRINTS
    except ImportError:
        return {}
    return dict(KNOWN_FINGERPRINTS)


def data_id(line: dict, known: dict, names) -> DataId:
    """The data of `line`; `names`: the dataset names the report knows (its tables' datasets)."""
    trial = line.get("trial") or {}
    given = trial.get("dataset")
    label = line.get("data_label") or trial.get("dataset_label") or given or "?"
    fingerprint = line.get("data_fingerprint")
    if given and given != trial.get("dataset_label") and "data_label" not in line:
        label = given  # an old line whose data was given by path: the path, not its stem
    if label not in names:
        return DataId(label, None, "data given by path")
    if fingerprint is None:
        return DataId(label, label, NOT_FINGERPRINTED)
    if known.get(label) == fingerprint:
        return DataId(label, label, "")
    short = str(fingerprint)[:SHOWN_DIGITS]
    why = "not the named set's data" if label in known else "no known fingerprint to check it against"
    return DataId(f"{label} (data {short}…)", None, f"data {short}…: {why}")
