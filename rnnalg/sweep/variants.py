"""The paper's variants among a search's candidates.

A candidate is marked with a variant's name when it is the same model (`rnnalg.equivalent`: the
canonical graphs isomorphic, up to names, equation and ⊕ operand order, `MLP` written out) as
the variant's example spec checked at the candidate's size; only a variant with the same
parameter count at that size is compared.  The variants are Pascanu et al.'s, as the examples
write them for polyphonic music.
"""
from __future__ import annotations

from pathlib import Path

PAPER_VARIANTS = (("RNN", "rnn.rnn"), ("DT", "dt.rnn"), ("DT(S)", "dts.rnn"), ("DOT", "dot.rnn"),
                  ("DOT(S)", "dots.rnn"), ("sRNN-2", "srnn2.rnn"), ("DO", "do.rnn"))
SOURCE_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # a source checkout's examples/


def variant_specs(examples: Path | None = None) -> list:
    """[(variant name, its parsed spec)] of the variants whose example is in `examples`: by
    default a source checkout's examples/, else the installed `rnnalg.examples` package data."""
    from ..front.parser import load, parse

    if examples is None and not SOURCE_EXAMPLES.is_dir():
        from importlib.resources import files  # installed: examples/ ships as rnnalg.examples

        try:
            folder = files("rnnalg.examples")
        except ModuleNotFoundError:  # an install that predates it: no variants to mark
            return []
        return [(name, parse(folder.joinpath(file).read_text(encoding="utf-8"), f"examples/{file}"))
                for name, file in PAPER_VARIANTS if folder.joinpath(file).is_file()]
    folder = Path(examples or SOURCE_EXAMPLES)
    return [(name, load(folder / file)) for name, file in PAPER_VARIANTS if (folder / file).is_file()]


def mark_variants(candidates, size_name: str, variants: list, where: str = "") -> dict:
    """{candidate name: the paper variant it is} for the candidates that are one.  `where` names
    the candidates' source in a spec error's file name."""
    from ..algebra.equiv import equivalent
    from ..checking import check
    from ..front.parser import load, parse

    marks, checked = {}, {}  # (variant, its sizes) -> its program at those sizes
    for c in candidates:
        spec = parse(c.spec, f"{where}:{c.name}" if where else c.name)
        program = check(spec, _sizes(spec, size_name, c.size))
        for name, variant in variants:
            sizes = _sizes(variant, size_name, c.size)
            key = (name, str(sizes))
            if key not in checked:
                checked[key] = check(variant, sizes)
            if checked[key].param_count == program.param_count and equivalent(program, checked[key]):
                marks[c.name] = name
                break
    return marks


def _sizes(spec, size_name: str, size) -> dict | None:
    """`size_name = size` where the spec has that `let` (else None: the spec's own sizes)."""
    return {size_name: size} if size is not None and size_name in {let.name for let in spec.lets} else None
