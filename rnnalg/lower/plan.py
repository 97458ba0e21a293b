"""What the code generator needs to know about a program before it writes a line.

* `category[v]`: 'input' | 'pre' | 'prev' (h_{t-1}) | 'scan' | 'post' for every var;
* `stored`: scan vars whose per-step values are kept in a (T, B, W) buffer, because a
  VJP, a weight gradient or the post phase reads them (BPTT keeps nothing else);
* `needs_grad`: vars the loss depends on through a parameter or a state;
* `names`: one unique Python identifier per (role, var or param) — spec names never
  reach the emitted code except as string literals.
"""
from __future__ import annotations

import builtins
import keyword
import re

from ..ir import Program
from ..phases import phases, static_values
from .rules import saved_rules

NOISE_OPS = ("dropout", "vdropout", "zoneout")  # their masks: prelude.draw_noise, one rule each


class Namer:
    """Unique, valid identifiers derived from spec names: `h'.W_x` -> `h_next_W_x`."""

    RESERVED = {"np", "t", "T", "B", "m", "mk", "masked", "params", "batch", "state", "noise", "nll",
                "dlogits", "logp", "prob", "grads", "scale", "count", "nll_sum", "dt", "logits", "final_state", "loss",
                "t0", "t1", "K", "blk", "BLOCK_ROWS",  # the time blocks of loss_and_grad (blocks.py)
                "KP", "r0", "recompute", "RECOMPUTE_BYTES"}  # its pre phase in blocks (recompute.py)

    def __init__(self):
        self.taken = set(self.RESERVED) | set(dir(builtins)) | set(keyword.kwlist)
        self.assigned = {}

    def __call__(self, role: str, name: str) -> str:
        key = (role, name)
        if key not in self.assigned:
            base = re.sub(r"[^0-9A-Za-z_]", "_", name.replace("'", "_next").replace(".", "_"))
            base = f"{role}{base}" if role else base
            if not base or base[0].isdigit() or base.startswith("_"):
                base = "v" + base
            ident, n = base, 1
            while ident in self.taken:
                n += 1
                ident = f"{base}_{n}"
            self.taken.add(ident)
            self.assigned[key] = ident
        return self.assigned[key]


class Plan:
    """Analysis of one program for the lowering (see the module docstring)."""

    def __init__(self, program: Program):
        self.program = program
        phase = phases(program)
        self.category = {v.name: "input" for v in program.inputs}
        self.category.update({s.prev.name: "prev" for s in program.states})
        for e in program.eqns:
            self.category[e.out.name] = phase[e.out.name]
        self.vars = {v.name: v for v in program.inputs}
        self.vars.update({s.prev.name: s.prev for s in program.states})
        self.vars.update({e.out.name: e.out for e in program.eqns})
        self.eqns = {p: [e for e in program.eqns if self.category[e.out.name] == p] for p in ("pre", "scan", "post")}
        self.next_of = {s.next.name: s for s in program.states}
        self.state_of_prev = {s.prev.name: s for s in program.states}
        self.static = static_values(program.static_inputs, program.eqns)  # (1, B, W): once per sequence
        self.stored = self._stored()
        self.needs_grad = self._needs_grad()
        self.name = Namer()

    def _stored(self):
        stored = set(self.next_of)
        for e in self.program.eqns:
            if self.category[e.out.name] != "scan" or e.op == "affine":
                stored.update(a.name for a in e.args if self.category[a.name] == "scan")
            else:
                saved = saved_rules[e.op]
                if "out" in saved:
                    stored.add(e.out.name)
                for key, arg in zip(("a", "b"), e.args):  # the arguments the VJP reads
                    if key in saved and self.category[arg.name] == "scan":
                        stored.add(arg.name)
        return stored

    def _needs_grad(self):
        needs = {s.prev.name for s in self.program.states}
        for e in self.program.eqns:
            if e.params or any(a.name in needs for a in e.args):  # an affine, or an op like layernorm
                needs.add(e.out.name)
        return needs

    def producer_op(self, name: str):
        """The op that binds `name`, or None for inputs and previous states."""
        e = self.program.producer(name)
        return e.op if e else None

    def is_stateful(self, name: str) -> bool:
        return self.category[name] in ("scan", "prev")

    def pre_args(self, e):
        """(arg, param) pairs of an affine whose arg is known before the scan."""
        return [(a, p) for a, p in zip(e.args, e.params) if self.category[a.name] in ("input", "pre")]

    def state_args(self, e):
        return [(a, p) for a, p in zip(e.args, e.params) if self.category[a.name] not in ("input", "pre")]

    def fan_out(self):
        """Scan values read by two or more scan affines -> [(eqn, param), ...]: their products
        with the value run as one matrix product against the side-by-side weights."""
        readers = {}
        for e in self.eqns["scan"]:
            if e.op == "affine":
                for a, w in self.state_args(e):
                    readers.setdefault(a.name, []).append((e, w))
        return {name: pairs for name, pairs in readers.items() if len(pairs) > 1}

    def fused_backward(self):
        """The fan-out groups whose affines read no other scan value: their d loss / d a_t rows
        sit side by side (one G buffer), so d/d value is one product per step and each weight
        gradient one product over all steps.  value -> [eqn, ...] in forward order."""
        return {name: [e for e, _ in pairs] for name, pairs in self.fan_out().items()
                if all(len(self.state_args(e)) == 1 for e, _ in pairs)}

    @property
    def dropout_eqns(self):
        """The eqns that read a training-noise mask (dropout, vdropout, zoneout)."""
        return [e for e in self.program.eqns if e.op in NOISE_OPS]
