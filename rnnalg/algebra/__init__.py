"""Reasoning over specs as terms of the algebra (DESIGN §5):

* symbolic  — the widths of a checked program as formulas in its `let` sizes (sympy);
* cost      — parameters, multiply-adds by phase, BPTT memory, sequential depth as formulas;
* kept      — what the current lowering keeps per step, traced (tracemalloc);
* canonical — a canonical form of the IR: names, equation order and ⊕ operand order forgotten;
* equiv     — equivalence of two programs by graph isomorphism (networkx VF2), the parameter
              map, or the first difference with both locations.
"""
