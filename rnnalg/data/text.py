"""Text as one stream of integer tokens per split.

Units (how a text becomes symbols):

- ``char``: every character is a symbol, the newline included.
- ``word``: each line is split on whitespace and one ``<eos>`` is appended per line.
- the *spaced* character form of Mikolov's ``ptb.char.*.txt``: each symbol is followed by
  one space (``_`` marks a word boundary, the line end is a symbol too); the symbols are
  then the characters at the even positions of the file.

The vocabulary is the sorted (code-point order) set of symbols of the train split, so it
is the same on every run; a trained model keeps it in its checkpoint, and evaluation,
sampling and resuming encode any text with that stored vocabulary.  With ``min_count``
N > 1, symbols seen fewer than N times in the train split are left out and ``<unk>`` is
added (PTB's word files already contain ``<unk>``).  A symbol missing from the
vocabulary becomes ``<unk>`` when the vocabulary has it, else it is an error naming the
file, line, column and the symbol.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .files import MAX_LINE_BYTES, read_bytes

EOS, UNK = "<eos>", "<unk>"
UNITS = ("char", "word")


@dataclass(frozen=True)
class Source:
    """A text (or a slice of a file's lines) and where it came from, for error positions."""

    text: str
    file: str
    first_line: int = 1  # line number of text's first line in `file`
    spaced: bool = False  # the ptb.char form: symbol, space, symbol, space, ...
    final_eos: bool = True  # words: a file's unterminated last line still ends with <eos>

    def position(self, offset: int) -> str:
        """'line L, col C' of character `offset` of `text` (1-based, in the original file)."""
        line = self.text.count("\n", 0, offset) + self.first_line
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return f"line {line}, col {col}"


def read_text(path: str) -> str:
    """The file decoded as UTF-8 with '\\r\\n' read as '\\n'; bad bytes are a located DataError,
    and so is a line over `files.MAX_LINE_BYTES` (a non-regular or too large file: a DataError)."""
    raw = read_bytes(path, max_line_bytes=MAX_LINE_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        src = Source(raw[: err.start].decode("utf-8", errors="replace"), path)
        raise DataError(path, "file is not valid UTF-8", src.position(len(src.text))) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")  # drop a byte-order mark


# ---- text -> symbols ---------------------------------------------------------------------

def _char_symbols(src: Source) -> str:
    if not src.spaced:
        return src.text
    symbols, gaps = src.text[0::2], src.text[1::2]
    k = len(gaps) - len(gaps.lstrip(" "))  # first gap that is not a space
    j = symbols.find(" ")  # a space where a symbol should be: two spaces in a row
    if 0 <= j <= k:
        raise DataError(src.file, "two spaces in a row (this format writes every symbol followed "
                        "by a single space)", src.position(2 * j))
    if k < len(gaps):
        raise DataError(src.file, f"expected one space after each symbol, found {gaps[k]!r} "
                        "(this format writes every symbol followed by a single space)",
                        src.position(2 * k + 1))
    return symbols


def _word_symbols(src: Source) -> list[str]:
    """Words of each line, `<eos>` between lines; a file's last line ends with `<eos>` too."""
    symbols = []
    for k, line in enumerate(src.text.split("\n")):
        if k:
            symbols.append(EOS)
        symbols.extend(line.split())
    if src.final_eos and src.text and not src.text.endswith("\n"):
        symbols.append(EOS)
    return symbols


def _symbol_offset(src: Source, unit: str, index: int) -> int:
    """Character offset in `src.text` of symbol number `index` (for error messages)."""
    if unit == "char":
        return 2 * index if src.spaced else index
    start = seen = 0
    for line in src.text.split("\n"):
        words = list(re.finditer(r"\S+", line))
        if index < seen + len(words):
            return start + words[index - seen].start()
        if index == seen + len(words):
            return start + len(line)  # the <eos> at the end of this line
        seen += len(words) + 1
        start += len(line) + 1
    return len(src.text)


SYMBOLS = {"char": _char_symbols, "word": _word_symbols}


# ---- symbols -> ids ----------------------------------------------------------------------

def make_vocab(symbols, min_count: int = 1) -> tuple[str, ...]:
    """The sorted distinct symbols (code-point order) seen at least `min_count` times;
    `<unk>` is added when `min_count` > 1 (it stands for the rarer and the unseen ones)."""
    if min_count <= 1:
        return tuple(sorted(set(symbols)))
    kept = {sym for sym, n in Counter(symbols).items() if n >= min_count}
    return tuple(sorted(kept | {UNK}))


def _encode(symbols, vocab: tuple[str, ...], use_unk: bool) -> tuple[np.ndarray, int | None]:
    """Symbols → int32 ids; returns (ids, index of the first unknown symbol or None)."""
    unk = vocab.index(UNK) if use_unk and UNK in vocab else None
    singles = [(i, v) for i, v in enumerate(vocab) if len(v) == 1]
    if isinstance(symbols, str) and singles and len(singles) + (unk is not None) == len(vocab):
        # characters (and perhaps <unk>): vectorised over code points
        codes = np.frombuffer(symbols.encode("utf-32-le"), dtype="<u4")
        table = np.frombuffer("".join(v for _, v in singles).encode("utf-32-le"), dtype="<u4")
        order = np.argsort(table, kind="stable")
        pos = np.minimum(np.searchsorted(table[order], codes), len(table) - 1)
        known = table[order][pos] == codes
        ids = np.array([i for i, _ in singles], dtype=np.int32)[order[pos]]
    else:
        index = {v: i for i, v in enumerate(vocab)}
        ids = np.fromiter((index.get(w, -1) for w in symbols), dtype=np.int32, count=len(symbols))
        known = ids >= 0
    if known.all():
        return ids, None
    if unk is not None:
        return np.where(known, ids, unk).astype(np.int32), None
    return ids, int(np.argmin(known))


# where a vocabulary came from -> (how an error message names it, what it suggests)
VOCAB_ORIGINS = {
    "train": ("taken from the train split", "; train with --min-count 2 to map rare and unseen "
                                            "symbols to <unk>"),
    "checkpoint": ("the checkpoint was trained with", ""),
    "model": ("of the model", ""),
}


def encode_source(src: Source, unit: str, vocab: tuple[str, ...], use_unk: bool = True,
                  origin: str = "train") -> np.ndarray:
    """The text of `src` as a 1-D int32 stream over `vocab`; unknown symbols are located errors
    (`origin`, a key of VOCAB_ORIGINS, says where the vocabulary came from)."""
    symbols = SYMBOLS[unit](src)
    ids, bad = _encode(symbols, vocab, use_unk)
    if bad is not None:
        shown = "a line end ('\\n')" if symbols[bad] == "\n" else repr(symbols[bad])
        named, remedy = VOCAB_ORIGINS[origin]
        if symbols[bad] == " " and "_" in vocab:
            remedy = "; this vocabulary writes word boundaries as '_'"
        raise DataError(src.file, f"symbol {shown} is not in the vocabulary "
                        f"({len(vocab)} {unit} symbols {named}){remedy}",
                        src.position(_symbol_offset(src, unit, bad)))
    return ids


def encode_splits(sources: dict[str, Source], unit: str, vocab: tuple[str, ...] | None = None,
                  min_count: int = 1) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Every split encoded over `vocab` (default: `make_vocab` of sources['train'] with
    `min_count`); each split must have >= 2 tokens.  A vocabulary made here must have >= 2
    symbols, and no split may be all `<unk>` but its line ends (nothing would be left to predict)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    origin = "train" if vocab is None else "checkpoint"
    if vocab is None:
        vocab = make_vocab(SYMBOLS[unit](sources["train"]), min_count)
        _check_vocab_size(vocab, unit, sources["train"].file, min_count)
    streams = {}
    for split, src in sources.items():
        streams[split] = encode_source(src, unit, vocab, origin=origin)
        if len(streams[split]) < 2:
            raise DataError(src.file, f"the {split} split has {len(streams[split])} {unit} symbol(s); "
                            "at least 2 are needed to predict a next one")
        if origin == "train" and _all_unknown(streams[split], vocab):
            raise DataError(src.file, f"every {unit} symbol of the {split} split but the line ends is <unk> "
                            f"(none is in the vocabulary of {len(vocab)} symbols{_made_with(min_count)}): "
                            "there is nothing to predict" + ("; lower --min-count" if min_count > 1 else ""))
    return vocab, streams


def _all_unknown(stream: np.ndarray, vocab: tuple[str, ...]) -> bool:
    """Is every symbol of `stream` <unk> but the line ends (<eos>, '\\n'), with at least one <unk>?"""
    if UNK not in vocab:
        return False
    unk = vocab.index(UNK)
    structural = [vocab.index(v) for v in (UNK, EOS, "\n") if v in vocab]
    return bool(np.isin(stream, structural).all() and (stream == unk).any())


def _made_with(min_count: int) -> str:
    return f" seen at least {min_count} times in train" if min_count > 1 else ""


def _check_vocab_size(vocab: tuple[str, ...], unit: str, file: str, min_count: int) -> None:
    """A vocabulary of fewer than two symbols leaves nothing to predict (every NLL would be 0)."""
    if len(vocab) >= 2:
        return
    shown = ", ".join(repr(v) for v in vocab) or "none"
    raise DataError(file, f"the vocabulary of the train split has {len(vocab)} {unit} symbol(s) ({shown})"
                    f"{_made_with(min_count)}; a model needs at least 2 to predict anything"
                    + ("; lower --min-count" if min_count > 1 else ""))


def split_lines(text: str, file: str) -> dict[str, Source]:
    """One file → train/valid/test by lines: the first 90 %, the next 5 %, the last 5 %.

    valid and test get max(1, round(5 % of the lines)) lines each, in file order.
    """
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)
    n_held = max(1, round(0.05 * len(lines)))
    n_train = len(lines) - 2 * n_held
    if n_train < 1:
        raise DataError(file, f"has {len(lines)} line(s); a single text file is split 90/5/5 by lines, "
                        "which needs at least 3 (or give a directory with train/valid/test .txt files)")
    bounds = {"train": (0, n_train), "valid": (n_train, n_train + n_held),
              "test": (n_train + n_held, len(lines))}
    return {s: Source("".join(lines[a:b]), file, first_line=a + 1) for s, (a, b) in bounds.items()}


# ---- decoding helpers for sampling -------------------------------------------------------

def tokens_to_text(tokens, vocab, unit: str) -> str:
    """Ids → text: chars are concatenated; words are joined by spaces, `<eos>` ends a line."""
    symbols = [vocab[int(t)] for t in np.asarray(tokens).ravel()]
    if unit == "char":
        return "".join(symbols)
    if unit != "word":
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    parts = []
    for sym in symbols:
        if sym == EOS:
            parts.append("\n")
        else:
            if parts and parts[-1] != "\n":
                parts.append(" ")
            parts.append(sym)
    return "".join(parts)


def text_to_tokens(text: str, vocab, unit: str) -> np.ndarray:
    """Text → int32 ids (inverse of `tokens_to_text`); an unknown symbol is a DataError with its
    line and column (words: a newline is `<eos>`)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    src = Source(text, "<text>", final_eos=False)
    return encode_source(src, unit, tuple(vocab), use_unk=False, origin="model")
