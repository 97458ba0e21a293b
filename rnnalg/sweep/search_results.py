"""Which results lines are an architecture search's (`rnnalg search`), and what each candidate is.

A line is a search candidate's when

* it carries a `search` object (the candidate's name, seed, moves, size, parameters, canonical
  digest and spec text, the search file and the sized `let`): what `rnnalg search` writes; or
* its spec is `…/candidates/<model>.rnn`, as in the sweep file `rnnalg search` generates
  (lines written before the `search` object existed).

The search's candidates are read from the first `candidates.jsonl` found:
`<results folder>/../<search>/candidates.jsonl` (the committed copy:
`experiments/search_jsb/candidates.jsonl` for `experiments/results/search_jsb.jsonl`), else the
one beside the line's sweep file or in its spec's folder (the search's OUT).  Old lines need it;
lines with a `search` object do without, but it names the candidates not run yet.

A search is named by its search file's stem (old lines: the folder holding `candidates/`, the
search's OUT, which `rnnalg search` names after the search file).  A candidates file whose
parameter count for a candidate is not the line's is refused: it is another search's.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .linetypes import candidate_mistake

CANDIDATE_SPEC = re.compile(r"(?:^|/)candidates/(?P<name>[^/]+)\.rnn$")
FIELDS = ("name", "seed", "moves", "size", "parameters", "spec")


@dataclass(frozen=True)
class Candidate:
    name: str
    seed: str  # the seed's label, e.g. "DT(S)"
    moves: tuple  # from the seed, in order; () for the seed itself
    size: int | None  # the value of the sized `let`
    parameters: int
    spec: str  # the spec text (its `let` as written; `size` is set when it is checked)


@dataclass
class Search:
    name: str  # e.g. "search_jsb"
    size_name: str  # the sized `let`, e.g. "H"
    candidates: dict = field(default_factory=dict)  # name -> Candidate (all the search generated, when known)
    lines: list = field(default_factory=list)  # its results lines
    file: str | None = None  # the search file, when a line names it
    source: str = ""  # where the candidates were read from


def split_searches(placed: list) -> tuple[list, list]:
    """(the lines of no search, [Search]) from [(results file, line number, line)]."""
    plain, searches = [], {}
    for path, number, line in placed:
        name = _search_name(line)
        if name is None:
            plain.append(line)
            continue
        search = searches.get(name) or searches.setdefault(name, Search(name, _size_name(line)))
        search.lines.append(line)
        _add_candidate(search, path, number, line)
    return plain, list(searches.values())


def _search_name(line: dict) -> str | None:
    trial = line["trial"]
    if isinstance(line.get("search"), dict):
        return Path(str(line["search"].get("file") or "search")).stem
    spec = str(trial.get("spec_shown") or trial.get("spec") or "").replace("\\", "/")
    found = CANDIDATE_SPEC.search(spec)
    if not found or found["name"] != trial.get("model"):
        return None
    absolute = str(trial.get("spec") or "").replace("\\", "/")  # the folder holding candidates/: the search's OUT
    folder = (absolute if CANDIDATE_SPEC.search(absolute) else spec).rsplit("/candidates/", 1)[0]
    return folder.rsplit("/", 1)[-1] or "search"


def _size_name(line: dict) -> str:
    given = (line.get("search") or {}).get("size_name")
    sizes = line["trial"].get("sizes") or {}
    return given or (next(iter(sizes)) if len(sizes) == 1 else "H")


def _add_candidate(search: Search, path, number: int, line: dict) -> None:
    model = line["trial"].get("model")
    described = line.get("search")
    places = _places(search.name, path, line)
    found = next((p for p in places if p.is_file()), None) if not search.source else None
    if found is not None:  # all the search's candidates, those not run too
        for candidate in read_candidates(found):
            search.candidates.setdefault(candidate.name, candidate)
        search.source = str(found)
    if isinstance(described, dict):
        search.file = search.file or described.get("file")
        search.candidates.setdefault(model, _candidate(described, str(path), f"line {number}"))
        search.source = search.source or "the results lines"
    elif model not in search.candidates:
        raise DataError(str(path), f"trial {line['trial'].get('id')} is candidate {model} of search "
                                   f"{search.name}, but no candidates.jsonl describes it (looked at "
                                   f"{', '.join(map(str, dict.fromkeys(places)))})", where=f"line {number}")
    known = search.candidates.get(model)
    if known is None or (line.get("params") is not None and known.parameters != line["params"]):
        said = "has no candidate " + model if known is None else f"gives {model} {known.parameters:,} parameters"
        raise DataError(str(path), f"{search.source} {said}, the line {line.get('params')}: another search's "
                                   "candidates", where=f"line {number}")


def _places(name: str, path, line: dict) -> list:
    """Where a candidates.jsonl for `line` may be, in the order tried."""
    places = [Path(path).parent.parent / name / "candidates.jsonl"]  # the committed copy first
    if line.get("sweep"):
        places.append(Path(line["sweep"]).parent / "candidates.jsonl")
    if line["trial"].get("spec"):
        places.append(Path(line["trial"]["spec"]).parent.parent / "candidates.jsonl")
    return places


def read_candidates(path) -> list:
    """The candidates of a `candidates.jsonl`; a line that is not one is a DataError naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(str(path), f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.strip():
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                raise DataError(str(path), f"not JSON: {err.msg}", where=f"line {number}") from None
            found.append(_candidate(obj, str(path), f"line {number}"))
    return found


def _candidate(obj, file: str, where: str) -> Candidate:
    missing = [k for k in FIELDS if k not in obj] if isinstance(obj, dict) else list(FIELDS)
    if missing:
        raise DataError(file, f"not a search candidate (no {', '.join(missing)})", where=where)
    mistake = candidate_mistake(obj)  # each field of its type (linetypes.py)
    if mistake:
        raise DataError(file, f"not a search candidate: {mistake}", where=where)
    return Candidate(obj["name"], obj["seed"], tuple(obj["moves"]), obj["size"], obj["parameters"], obj["spec"])
