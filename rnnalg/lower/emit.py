"""Lower a program to a standalone numpy module: forward, loss and BPTT gradients.

The module is plain Python text (what `rnnalg compile -o` writes, and what training
runs).  The step is split in three phases (DESIGN §2):

    pre   for all T·B positions at once: input projections `P = b + Σ x W` (embeddings by lookup)
    scan  for t in 0..T-1: only the state-dependent terms `a_t = P[t] + Σ h_t W`
    post  for all positions at once: what reads states but feeds none back (predict, losses)

and the backward pass mirrors it: post grads over all steps, one reverse scan for
the state-dependent part that records d loss / d a_t for every affine, then every
weight gradient as one (in × T·B) @ (T·B × out) product.  A masked position keeps
its state: h_t = h_{t-1} + m_t (f(…) − h_{t-1}).  Groups of scan ops that run as one
call per step (the gates of an LSTM) are found and written by `groups.py`.  `loss_and_grad` runs
its post phase and backward pass in time blocks of steps (`training.py`), so that what it keeps
grows with T only by the values BPTT must read.
The module's text around these bodies (tables, prelude, templates) is `module_text.py`.
"""
from __future__ import annotations

import ast

from ..ir import Program
from . import blocks, kernels, module_text, scan_choice
from .backward import BackwardEmitter, Lines
from .groups import GroupEmitter, find_groups
from .linear import parallel_states
from .parallel import ParallelEmitter
from .plan import Plan
from .recompute import RecomputeEmitter
from .rules import Site, forward_rules, into_rules, loss_rules
from .training import BlockEmitter

class Emitter(BackwardEmitter, BlockEmitter, GroupEmitter, ParallelEmitter, RecomputeEmitter):
    """Writes the module text of one program; names every array it uses through the Plan.
    `parallel=False` keeps the generic step loop for states that `linear.py` proves linear;
    `steps=True` runs them step by step on the associative scan's a_t, b_t and blocks (parallel.py)."""

    def __init__(self, program: Program, parallel: bool = True, steps: bool = False):
        self.p = Plan(program)
        self.program = program
        self.parallel = parallel_states(program) if parallel else {}  # state -> LinearState
        self.by_steps = steps  # the linear states' recursions as step kernels rather than _linear_scan
        self.groups, self.folded, self.horizontal = find_groups(self.p)
        self.group_of = {e.out.name: g for g in self.groups for e in g.eqns}  # affine -> its JointPre
        self.horizontal_of = {e.out.name: h for h in self.horizontal for e in h.eqns}
        n = self.p.name
        self.w = lambda name: n("", name)  # parameter array
        self.v = lambda name: n("", name)  # a var: stacked array, or the current step's value in the scan
        self.g = lambda name: n("g_", name)  # its gradient (same shape as `v`)
        self.gpost = lambda name: n("gpost_", name)  # stacked grads that the post phase sends into the scan
        self.G = lambda name: n("G_", name)  # stacked d loss / d a_t of a scan affine
        self.P = lambda name: n("P_", name)  # pre-part of an affine: b + Σ (input terms)
        self.D = lambda name: n("D_", name)  # dropout mask
        self.S = lambda name: n("S_", name)  # per-step buffer of a stored scan var
        self.buf = lambda name: n("buf_", name)  # (T+1, B, W): h_0 then h_1..h_T
        self.carry = lambda name: n("carry_", name)  # d loss / d h_t from step t+1
        self.gscan = lambda name: n("gscan_", name)  # per-step grads of a pre value the scan reads
        self.deriv = lambda name: n("dfda_", name)  # f'(a) of an elementwise scan op, all steps
        self.joint = lambda name: n("joint_", name)  # value @ [W_1 | W_2 | …] of a value read by several affines
        self.joint_w = lambda name: n("Wjoint_", name)
        self.joint_part = lambda name, site: n("joint_", f"{name}_{site}")  # its columns for one affine
        self.Gjoint = lambda name: n("Gjoint_", name)  # the G buffers of those affines, side by side
        self.dWjoint = lambda name, arg: n("dWjoint_", f"{name}_{arg}")  # their weight grads for one arg
        self.dbjoint = lambda name: n("dbjoint_", name)  # and their bias grads
        self.dWsum = lambda name: n("dWsum_", name)  # a weight's gradient summed over the time blocks
        self.target = lambda name: n("target_", name)  # an output's targets
        self.zero = lambda state: n("zeros_", state.prev.name)
        self.Pjoint = lambda name: n("Pjoint_", name)  # input terms + biases of a JointPre group
        self.Ujoint = lambda name, arg: n("Ujoint_", f"{name}_{arg}")  # its input weights side by side
        self.Sjoint = lambda name: n("Sjoint_", name)  # step buffers of a Horizontal group
        self.deriv_joint = lambda name: n("dfdajoint_", name)  # and f'(a) of the whole group
        self.lin_a = lambda name: n("Alin_", name)  # a_t of a linear state, all steps (parallel.py)
        self.lin_b = lambda name: n("Blin_", name)  # b_t
        self.lin_e = lambda name: n("Elin_", name)  # d loss / d h_t sent back by the post phase
        self.lin_t = lambda name: n("Tlin_", name)  # (B, W): a_{t+1} λ_{t+1} in the reverse steps
        self.blocked = False  # writing the lines that run once per time block (blocks.py)
        self.into_buffer = self._into_buffer()  # scan affine -> the step buffer its pre part is written into
        self.deferred = self._deferred_pre()  # pre eqns run in blocks, made again when recompute is on
        self.pre_blocks = self.deferred is not None  # loss_and_grad's pre phase in blocks (recompute.py)
        self.deferred_names = {e.out.name for e in self.deferred or ()}

    # ---- where a var's value lives -----------------------------------------------------------
    def stacked(self, name):
        """All steps' values, (T, B, W); in a time block its steps, (t1 - t0, B, W) (a post value
        is the block's own array there)."""
        cat = self.p.category[name]
        if cat == "prev":
            return f"{self.buf(name)}[t0:t1]" if self.blocked else f"{self.buf(name)}[:-1]"
        if name in self.p.next_of:
            return f"{self.buf(self.p.next_of[name].prev.name)}[{'t0 + 1:t1 + 1' if self.blocked else '1:'}]"
        if cat == "scan":  # a linear chain's value: made in the block (parallel.py)
            return self.S(name) if self.blocked and self.parallel else self.rows(self.S(name))
        if cat == "post" or name in self.p.static:
            return self.v(name)
        if self.blocked and name in self.deferred_names:  # made in its block, or over all steps
            return f"{self.v(name)}[t0 - r0:t1 - r0]"
        return self.rows(self.v(name))

    def over_steps(self, expr, e):
        """The pre part of affine `e` as the scan reads it, `P[t]`: from static operands only it is
        (1, B, W), computed once per sequence, then broadcast over the steps (a view)."""
        if self.p.category[e.out.name] != "scan" or not all(a.name in self.p.static for a, _ in self.p.pre_args(e)):
            return expr
        return f"_over_steps({expr}, T)"

    def step_value(self, name):
        """Step t's value inside the forward scan (a static value has one step, for all)."""
        if name in self.p.static:
            return f"{self.v(name)}[0]"
        return f"{self.v(name)}[t]" if self.p.category[name] in ("input", "pre") else self.v(name)

    def at_step(self, name):
        """Step t's value, read back from the buffers during the reverse scan."""
        if self.p.category[name] == "prev":
            return f"{self.buf(name)}[t]"
        if name in self.p.next_of:
            return f"{self.buf(self.p.next_of[name].prev.name)}[t + 1]"
        if name in self.p.static:
            return f"{self.v(name)}[0]"
        if self.p.category[name] in ("input", "pre"):
            return f"{self.v(name)}[t]"
        return f"{self.S(name)}[t]"

    def _step_row(self, name):
        """The buffer row that keeps step t's value of a scan var, or None if it is not kept."""
        if name in self.p.next_of:
            return f"{self.buf(self.p.next_of[name].prev.name)}[t + 1]"
        return f"{self.S(name)}[t]" if name in self.p.stored else None

    def site(self, e, a, out, g="", step=False, b=""):
        attrs = dict(e.attrs)
        mask_var = self.D(e.out.name)
        return Site(a=a, b=b, out=out, g=g, attrs=attrs, mask_var=mask_var,
                    mask=f"{mask_var}[t]" if step else self.rows(mask_var), params=tuple(self.w(n) for n in e.params))

    def args_site(self, e, value_of, out="", g="", step=False):
        """The Site of a non-affine eqn whose arguments' values are `value_of(name)`."""
        values = [value_of(a.name) for a in e.args] + [""]
        return self.site(e, values[0], out, g, step, b=values[1])

    def pre_part(self, e):
        """The affine's input terms plus bias (an array name), or just the bias."""
        return self.P(e.out.name) if self.p.pre_args(e) else self.w(e.params[-1])

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, out: Lines, post: bool = True, blocks: bool = False):
        """The forward pass; `post=False` stops after the scan (loss_and_grad runs the post phase,
        input terms of its affines included, block by block); `blocks`: the pre phase (and an
        associative scan) in blocks, as loss_and_grad runs it (recompute.py)."""
        blocks = blocks and self.pre_blocks
        p, prog = self.p, self.program
        for par in prog.params:
            out.add(f"{self.w(par.name)} = params[{par.name!r}]")
        for tied, source in prog.ties:  # a tied softmax weight: the embedding's transpose (a view)
            out.add(f"{self.w(tied)} = params[{source!r}].T")
        out.add(f"dt = params[{prog.params[0].name!r}].dtype")
        for v in prog.inputs:
            cast = "np.asarray({}, dtype=np.intp)" if v.kind == "token" else "np.asarray({}, dtype=dt)"
            static = "[None]" if v.name in p.static else ""  # (B, D) -> (1, B, D): one value per sequence
            out.add(f"{self.v(v.name)} = {cast.format(f'batch[{v.name!r}]')}{static}")
        steps = next(v for v in prog.inputs if v.name not in p.static)
        out.add(f"T, B = {self.v(steps.name)}.shape[:2]")
        out.add("masked = batch.get('mask') is not None")
        out.add("m = batch['mask'].astype(dt) if masked else np.ones((T, B), dtype=dt)")
        out.add("mk = m[:, :, None]")
        for e in p.dropout_eqns:
            out.add(f"{self.D(e.out.name)} = None if noise is None else noise[{e.out.name!r}]")
        if prog.states and not self.parallel:
            self._scan_buffers(out)
        out.add("# -- pre: everything that depends only on the inputs, all steps at once")
        for e in prog.eqns:
            if blocks and e.out.name in self.deferred_names:  # in the blocks of the pre phase
                continue
            if e.out.name in self.group_of:
                if e is self.group_of[e.out.name].eqns[0]:
                    self._joint_pre(self.group_of[e.out.name], out)
            elif e.out.name in self.into_buffer:  # P written into its reader's step buffer
                terms = ", ".join(f"({self.stacked(a.name)}, {self.w(w)})" for a, w in p.pre_args(e))
                out.add(f"{self.P(e.out.name)} = {self.into_buffer[e.out.name]}")
                if blocks and self._pre_reads_deferred(e):  # written in the blocks of the pre phase
                    continue
                out.add(f"_affine_into({self.P(e.out.name)}, {self.w(e.params[-1])}, {terms})")
            elif e.op == "affine" and p.pre_args(e) and not post and p.category[e.out.name] == "post":
                continue
            elif e.op == "affine" and p.pre_args(e):
                terms = [self.w(e.params[-1])] + [self._input_term(a, w) for a, w in p.pre_args(e)]
                target = self.v(e.out.name) if p.category[e.out.name] == "pre" else self.P(e.out.name)
                out.add(f"{target} = {self.over_steps(' + '.join(terms), e)}")
            elif p.category[e.out.name] == "pre":
                out.add(f"{self.v(e.out.name)} = {forward_rules[e.op](self.args_site(e, self.v))}")
        if blocks:
            self.forward_pre_blocks(out)
        if prog.states and not (blocks and self.parallel):
            (self._forward_parallel if self.parallel else self._forward_scan)(out)
        if post:
            self.post_forward(out)

    def post_forward(self, out: Lines):
        """The post phase: over all steps, or (in a time block) the block's steps, where an
        affine's input terms are computed here rather than in the pre phase."""
        p = self.p
        out.add("# -- post: reads the states, feeds none back; all steps at once")
        for e in p.eqns["post"]:
            if e.op == "affine":
                products = [f"_mm({self.stacked(a.name)}, {self.w(w)})" for a, w in p.state_args(e)]
                out.add(f"{self.v(e.out.name)} = {products[0]}")
                terms = [self.pre_part(e)]
                if self.blocked and p.pre_args(e):  # P's terms, on the block's rows, each added in place
                    terms = [self._input_term(a, w) for a, w in p.pre_args(e)] + [self.w(e.params[-1])]
                for term in terms + products[1:]:  # in place: no second (T, B, W) array
                    out.add(f"{self.v(e.out.name)} += {term}")
            else:
                out.add(f"{self.v(e.out.name)} = {forward_rules[e.op](self.args_site(e, self.stacked))}")

    def _input_term(self, a, w, weight=None):
        weight = weight or self.w(w)
        return f"{weight}[{self.stacked(a.name)}]" if a.kind == "token" else f"_mm({self.stacked(a.name)}, {weight})"

    def _scan_buffers(self, out: Lines):
        """The (T, B, W) buffers of the step loop, before the pre phase (which may write into them)."""
        p, prog = self.p, self.program
        out.add("# -- the step buffers: h_0..h_T of each state, the stored scan values of every step")
        for s in prog.states:
            out.add(f"{self.buf(s.prev.name)} = np.empty((T + 1, B, {s.prev.width}), dtype=dt)")
            out.add(f"{self.buf(s.prev.name)}[0] = 0 if state is None else state[{s.prev.name!r}]")
        self._horizontal_buffers(out)
        for e in p.eqns["scan"]:
            if e.out.name in p.stored and e.out.name not in p.next_of and e.out.name not in self.horizontal_of:
                out.add(f"{self.S(e.out.name)} = np.empty((T, B, {e.out.width}), dtype=dt)")

    def _forward_scan(self, out: Lines):
        p, prog = self.p, self.program
        out.add("# -- scan: only the state-dependent terms, step by step")
        for s in prog.states:
            out.add(f"{self.v(s.prev.name)} = {self.buf(s.prev.name)}[0]")
        fan_out = p.fan_out()
        slices = {}  # (value, param) -> the columns of the value's joint product
        for name, pairs in fan_out.items():  # one product per value read by several affines
            out.add(f"{self.joint_w(name)} = np.concatenate([{', '.join(self.w(w) for _, w in pairs)}], axis=1)")
            out.add(f"{self.joint(name)} = np.empty((B, {sum(e.out.width for e, _ in pairs)}), dtype=dt)")
            start = 0
            for e, w in pairs:  # fixed views of the product buffer, one per affine
                view = self.joint_part(name, e.out.name)
                out.add(f"{view} = {self.joint(name)}[:, {start}:{start + e.out.width}]")
                slices[name, w] = view
                start += e.out.width
        out.append(kernels.begin("_scan_forward"))
        out.add("for t in range(T):")
        done = set()
        for e in p.eqns["scan"]:
            name = e.out.name
            dst = self._step_row(name)
            if e.op == "affine":
                terms = []
                for a, w in p.state_args(e):
                    if (a.name, w) not in slices:
                        terms.append(f"{self.v(a.name)} @ {self.w(w)}")
                        continue
                    if a.name not in done:
                        out.add(f"np.dot({self.v(a.name)}, {self.joint_w(a.name)}, {self.joint(a.name)})", 2)
                        if name in self.group_of:  # and the input terms + biases of all its affines
                            t = "[t]" if p.pre_args(e) else ""
                            out.add(f"{self.joint(a.name)} += {self.Pjoint(a.name)}{t}", 2)
                        done.add(a.name)
                    terms.append(slices[a.name, w])
                if name not in self.group_of:
                    pre = self.pre_part(e)
                    terms.append(f"{pre}[t]" if p.pre_args(e) else pre)
                out.add(f"{self.v(name)} = {terms[0]}", 2)
                for term in terms[1:]:
                    out.add(f"{self.v(name)} += {term}", 2)
                if dst:
                    out.add(f"{dst} = {self.v(name)}", 2)
            elif name in self.folded:  # its constant is in the affine's bias: an alias
                out.add(f"{dst or self.v(name)} = {self.v(self.folded[name])}", 2)
            elif name in self.horizontal_of:  # one call for the group, at its first member
                self._horizontal_step(e, out)
            elif dst and e.op in into_rules:
                out.add(into_rules[e.op](self.args_site(e, self.step_value, dst, step=True)), 2)
            else:
                expr = forward_rules[e.op](self.args_site(e, self.step_value, step=True))
                out.add(f"{dst or self.v(name)} = {expr}", 2)
            if dst:  # from here on the var is a view of its buffer row
                out.add(f"{self.v(name)} = {dst}", 2)
            if name in p.next_of:
                prev = self.v(p.next_of[name].prev.name)
                out.add("if masked:  # a padded step keeps its state: h' = h + m (h' - h), in place", 2)
                out.add(f"{self.v(name)} -= {prev}", 3)
                out.add(f"{self.v(name)} *= mk[t]", 3)
                out.add(f"{self.v(name)} += {prev}", 3)
        for s in prog.states:
            out.add(f"{self.v(s.prev.name)} = {self.v(s.next.name)}", 2)
        out.append(kernels.end())

    def losses(self, out: Lines):
        """Evaluation's heads: nll_sum and count over the unmasked positions, for each head whose
        targets the batch holds (the gradient's heads: training.block_losses)."""
        out.add("# -- heads: link + NLL, averaged over the unmasked positions")
        out.add("nll_sum, count = 0.0, float(m.sum())")
        for h in self.program.heads:
            out.add(f"if {h.output.name!r} in batch:")
            target = f"np.asarray(batch[{h.output.name!r}], dtype={'np.intp' if h.output.kind == 'token' else 'dt'})"
            out.add(f"{self.target(h.output.name)} = {target}", 2)
            for line in loss_rules[h.output.kind](self.stacked(h.logits.name), self.target(h.output.name), ""):
                out.add(line, 2)
            out.add("nll_sum += float((nll * m).sum(dtype=np.float64))", 2)

    # ---- the module --------------------------------------------------------------------------
    def bodies(self):
        """(forward's body, loss_and_grad's body, their scan kernels name -> text, final-state
        expression, logits expression) of this lowering."""
        prog = self.program
        fwd = Lines()
        self.forward(fwd)
        eval_lines = Lines()
        eval_lines.extend(fwd)
        self.losses(eval_lines)
        train = Lines()
        self.train(train)
        kernel_texts = {}  # the scan loops, as module-level functions (kernels.py)
        eval_lines, train = kernels.extract(eval_lines, kernel_texts), kernels.extract(train, kernel_texts)
        final = "{" + ", ".join(f"{s.prev.name!r}: {self.buf(s.prev.name)}[T]" for s in prog.states) + "}"
        logits = "{" + ", ".join(f"{h.output.name!r}: {self.stacked(h.logits.name)}" for h in prog.heads) + "}"
        eval_lines = blocks.drop_dead(eval_lines, keep=_names_in(f"(nll_sum, count, {final}, {logits})"))
        train = blocks.drop_dead(blocks.wrap(blocks.wrap_pre(train)), keep=_names_in(f"(nll_sum, count, grads, {final})"))
        return eval_lines, train, kernel_texts, final, logits

    # ---- the module ----------------------------------------------------------------------------
    def module(self, loop=None) -> str:
        """The module text (module_text.py); `loop` (parallel='auto', scan_choice.py): the step loop's
        Emitter of the same program, whose bodies join this one's (the scan's) behind the size rule
        `_use_scan`."""
        eval_lines, train, kernel_texts, final, logits = self.bodies()
        if loop is None:
            functions = module_text.functions(eval_lines, train, final, logits)
        else:
            loop_bodies = loop.bodies()
            kernel_texts.update(loop_bodies[2])
            assert loop.pre_floats() == self.pre_floats()  # one recompute rule for both sides
            functions = scan_choice.functions(self.program, (eval_lines, train, final, logits), loop_bodies)
        return module_text.module_text(self.program, kernel_texts, functions, self.pre_floats())


def _names_in(expr: str) -> set:
    return {n.id for n in ast.walk(ast.parse(expr)) if isinstance(n, ast.Name)}


def emit_module(program: Program, parallel="auto") -> str:
    """The standalone numpy module for `program` (needs only numpy).  Linear states (h' = a ⊙ h + b,
    linear.py) run as an associative scan (`parallel=True`), step by step (`False`: the scan's
    a_t, b_t, time blocks and recompute rule, parallel.py), or, by default ('auto'), either, chosen
    per call by the size rule `_use_scan(T, B, …)` (scan_choice.py)."""
    if parallel not in PARALLEL_CHOICES:
        raise ValueError(f"parallel={parallel!r}: choose one of {', '.join(map(repr, PARALLEL_CHOICES))}")
    if parallel == "auto" and parallel_states(program):
        return Emitter(program, True).module(loop=Emitter(program, True, steps=True))
    return Emitter(program, True, steps=not parallel).module()


PARALLEL_CHOICES = (True, False, "auto")  # emit_module's `parallel`: scan, step loop, by size
