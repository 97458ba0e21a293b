"""rnnalg: compose deep recurrent networks from ⊕ (plus) and ▷ (predict), compiled to numpy.

    import rnnalg
    program = rnnalg.load_program("examples/dots.rnn", sizes={"H": 200})
    model = rnnalg.compile(program)
    params = model.init_params(np.random.default_rng(0))
    loss, grads, final_state = model.loss_and_grad(params, batch)

The subpackages `rnnalg.data`, `rnnalg.train` (`rnnalg.train.train(program, run_dir, settings)`)
and `rnnalg.testing` load on first use, so `import rnnalg` stays light and needs no further import.
"""
import importlib as _importlib

from .errors import DataError, RnnalgError, SpecError, UsageError
from . import api
from .model import Model, compile
from .front.unparse import unparse
from . import export  # a callable package: rnnalg.export(program, "torch", path, params=None)

__version__ = "0.1.0"


def parse(text: str, file: str = "<spec>"):
    """Spec text -> syntax.Spec (unchecked)."""
    from .front.parser import parse as _parse

    return _parse(text, file)


def load(path):
    """A .rnn file -> syntax.Spec (unchecked)."""
    from .front.parser import load as _load

    return _load(path)


def check(spec, sizes=None):
    """syntax.Spec -> the checked operator graph (ir.Program)."""
    from .checking import check as _check

    return _check(spec, sizes)


_check_spec = check  # kept apart from the name `check`, which a subpackage import may shadow


def load_program(path, sizes=None):
    """Parse and check a .rnn file: -> ir.Program."""
    return _check_spec(load(path), sizes)


def cost(program, batch: int = 16, steps: int = 100):
    """ir.Program -> algebra.cost.Cost: parameter, multiply-add, memory and depth formulas in the
    spec's `let` sizes, B (= batch) and T (= steps); `.values` evaluates them."""
    from .algebra.cost import cost as _cost

    return _cost(program, batch, steps)


def equivalent(a, b):
    """Two ir.Programs -> algebra.equiv.Equivalence: truthy when they are the same model, with
    `.names` and `.params` (A's -> B's); else `.difference` (both locations and what differs)."""
    from .algebra.equiv import equivalent as _equivalent

    return _equivalent(a, b)


_ON_FIRST_USE = ("data", "train", "testing", "sweep")  # subpackages imported when first named


def __getattr__(name):
    """`rnnalg.train`, `rnnalg.testing`, ... after a bare `import rnnalg` (PEP 562)."""
    if name in _ON_FIRST_USE:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rnnalg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))


__all__ = ["api", "export", "cost", "equivalent", "unparse", "parse", "load", "check", "load_program",
           "compile", "Model", "RnnalgError", "SpecError", "DataError", "UsageError", "__version__"]
