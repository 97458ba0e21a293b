"""The checker: `check(spec, sizes) -> ir.Program` (in `checker`), and its parts:

* checker     — the entry point: the three passes, errors reported together;
* diagnostics — collects located errors and warnings; `Poison` abandons one equation;
* functions   — the rule table of elementwise and group functions (static args, group factor);
* scope       — sizes, declarations, name binding and the names each equation reads;
* order       — the dependency order of the equations; cycles within a step;
* build       — width inference and the construction of IR equations and parameters.
"""
from .checker import check

__all__ = ["check"]
