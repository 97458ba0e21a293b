"""Boulanger-Lewandowski's original `.pickle` files, read without executing anything.

A pickle can name any importable callable (`find_class`) and call it (REDUCE, BUILD,
OBJ, INST, ...).  The unpickler below refuses every class lookup and every persistent id,
so only the opcodes that build plain values remain: lists, tuples, dicts, ints, floats,
strings (and bytes, None, bools).  The loaded value is then checked to contain only
list, tuple, dict, int, float and str, to be a tree (a list that contains itself is
refused) and to stay under MAX_VALUES values even where the pickle's memo shares one list
in many places, before anything else sees it.  BL's files are Python 2 pickles, hence
`encoding="latin1"`.
"""
from __future__ import annotations

import io
import pickle

from ..errors import DataError
from .files import read_bytes
from .music import compact_splits

ALLOWED = (list, tuple, dict, int, float, str)
MAX_VALUES = 20_000_000  # values in a file, shared lists counted at each use (MuseData: 1.7 M)


class _Refuse(Exception):
    pass


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that admits no class, function or persistent object."""

    def find_class(self, module, name):
        raise _Refuse(f"the pickle asks for {module}.{name}; only lists, tuples, dicts, "
                      "ints, floats and strings are admitted")

    def persistent_load(self, pid):
        raise _Refuse("the pickle uses a persistent id; only plain values are admitted")


def _children(value):
    """(child, label) pairs of a dict (values, then keys) or a list/tuple."""
    if isinstance(value, dict):
        return [(v, f"[{k!r}]") for k, v in value.items()] + [(k, " key") for k in value]
    return [(v, f"[{i}]") for i, v in enumerate(value)]


def _where(node) -> str:
    """A path node (parent node, label) → 'top[0][1]...', built only for an error message
    (building every path eagerly costs O(depth²) memory on a deeply nested pickle)."""
    labels = []
    while node is not None:
        node, label = node
        labels.append(label)
    return "".join(reversed(labels))


def _check_plain(obj, where: str, path: str) -> None:
    """Check that `obj` holds only ALLOWED types, is a tree (no list contains itself) and
    would hold at most MAX_VALUES values written out: a pickle may share one list in many
    places (its memo), so 60 bytes can describe 2^60 values.  Iterative, linear in the
    distinct containers: each is checked once and its written-out size remembered."""
    sizes: dict = {}  # id(container) -> values in it written out (itself included)
    on_path: set = set()  # ids of the containers being checked: the current path from the top
    stack = [(obj, (None, where), False)]
    while stack:
        value, node, leaving = stack.pop()
        if type(value) not in ALLOWED:
            raise DataError(path, f"refused: value of type {type(value).__name__} "
                            "(only list, tuple, dict, int, float, str are admitted)", _where(node))
        if not isinstance(value, (dict, list, tuple)):
            continue
        key = id(value)  # stable: `obj` keeps every container alive
        if leaving:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes.get(id(child), 1) for child, _ in _children(value))
            if sizes[key] > MAX_VALUES:
                raise DataError(path, f"refused: more than {MAX_VALUES:,} values once shared lists "
                                "are written out (a music file holds a few million at most)", _where(node))
        elif key in on_path:
            raise DataError(path, "refused: a list that contains itself (not plain data)", _where(node))
        elif key not in sizes:  # a shared container seen before is not checked again
            on_path.add(key)
            stack.append((value, node, True))
            stack.extend((child, (node, label), False) for child, label in reversed(_children(value)))


def _integral_notes(obj):
    """Notes stored as integral floats (60.0) become ints, at the nesting split/piece/step/note
    only; everything else is left for the validator (no recursion into arbitrary depth)."""
    def each(f):
        return lambda xs: [f(x) for x in xs] if isinstance(xs, (list, tuple)) else xs

    def note(n):
        return int(n) if type(n) is float and n.is_integer() else n

    split = each(each(each(note)))
    return {k: split(v) for k, v in obj.items()} if isinstance(obj, dict) else obj


def load_plain_pickle(path: str):
    """Unpickle `path` admitting only plain values; anything else is a DataError."""
    raw = read_bytes(path)
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except _Refuse as err:
        raise DataError(path, f"refused: {err}") from None
    except Exception as err:  # a damaged pickle can raise almost anything; none may escape
        raise DataError(path, f"not a readable pickle: {type(err).__name__}: {err}") from None
    _check_plain(obj, "top", path)
    return obj


def read_music_pickle(path: str):
    """BL's `{'train','valid','test'}` pickle → validated NoteLists per split."""
    return compact_splits(_integral_notes(load_plain_pickle(path)), path)
