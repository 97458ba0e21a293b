"""Elementwise fusion of a scan kernel's step: a run of elementwise statements becomes one loop.

The emitted kernels run each elementwise statement of a step (a gate's σ, the cell update, a
gradient's products) as its own call over (B, n) arrays: at B=1 a call does 200–600 flops and
costs about as much again in calls, checks and temporaries (LSTM, B=1, T=100: 0.15 ms of
forward and 0.2 ms of backward kernel time beside the step products).  This pass rewrites, in a
kernel's AST before backend.py's numba rewrite, each run of consecutive elementwise statements
that touch one set of arrays into

    _fv0 = joint_h[:, 0:600]; _fv1 = Sjoint_i[t]; …       the arrays it reads and writes (views)
    if _full(_fv0, _fv0) & … & _apart(_fv1, _fv0):         one shape, contiguous rows, no overlap
        for _r in range(B):  for _j in range(n):           every statement, element by element:
            _s0 = _fr0[_j] * _fk0 …                        each value once, in registers, stored
        name = _fa0 …                                      once; the values read later bound
    else:
        <the statements as they were>

Each element goes through the same float operations in the same order as the statements do
(constants cast to the arrays' dtype as numpy's weak scalars are, tanh as numba_rows runs it),
so the results are the statements' own, bit for bit.  Fused: `np.multiply/add/subtract(a, b,
out)`, `np.tanh(a, out)`, `x = <+ − * of arrays and numbers>`, `X[i] = …`, `x op= y`,
`X[i] op= y`, aliases `x = y` / `x = X[i]`, and in any of those expressions f'(a) of a
stored output, `_tanh_deriv(y)` / `_sigmoid_deriv(y)` (DERIVS: the reverse step's, from
lower/rules.step_deriv_rules; in the fallback numba_prelude's helpers).  The mask `mk[t]` is a column (B, 1), read
once per row; a 1-D array read (a bias row `h_b`, which numpy broadcasts over the batch) is read
as every row.  numba types both branches of the `if`, whatever the checks say at run time, so the
checks and row reads take either rank and resolve it by type (numba_fused.py): a kernel whose
fused branch did not type would run whole as numpy (backend.by_batch).  A value assigned in
the run and read after it (later in the step, in the next step, or after the loop) is stored to
an array; the others live in registers only.  A view read that may be the very view written (the
lowering's tanh over its own input) is read from a copy of it made before the loop where it is, so
that LLVM vectorises the loop (numba_fused._unshared).  Runs are split where they change array set (a
union of the arrays statements share, the mask aside), so that a 600-column σ block and the
200-column cell update are two loops.
"""
from __future__ import annotations

import ast
import copy

COLUMNS = {"mk"}  # kernel arguments read as (B, 1) columns: the lowering's reserved mask name
UFUNCS = {"multiply": ast.Mult, "add": ast.Add, "subtract": ast.Sub}  # np.<ufunc>(a, b, out)
OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
MIN_STATEMENTS = 2  # computing statements a fused loop needs to pay for its checks
MARK = "_fused_run"  # attribute set on the generated `if`: backend.py leaves its fused branch alone
# f'(a) from y = f(a), the prelude's helpers (lower/rules.step_deriv_rules): their operations, in order
DERIVS = {"_tanh_deriv": "1 - y*y", "_sigmoid_deriv": "(1 - y) * y"}


def _is_np_call(node, names):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "np"
            and node.func.attr in names and not node.keywords)


def _is_array_ref(node):
    """A Name or a subscript of a Name (a view): what a fused statement reads or writes."""
    return isinstance(node, ast.Name) or (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name))


def _is_expr(node):
    """+ − * of array references and numbers (an elementwise expression)."""
    if isinstance(node, ast.BinOp):
        return type(node.op) in OPS and _is_expr(node.left) and _is_expr(node.right)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub) and _is_expr(node.operand)
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float)
    if isinstance(node, ast.Call):  # f'(a) of an array reference or expression
        return (isinstance(node.func, ast.Name) and node.func.id in DERIVS and len(node.args) == 1
                and not node.keywords and _is_expr(node.args[0]))
    return _is_array_ref(node)


def kind(stmt) -> str | None:
    """'alias', 'compute' or None (not elementwise: ends a run)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, ast.Name) and _is_array_ref(value):
            return "alias"
        if _is_array_ref(target) and _is_expr(value):
            return "compute"
    if isinstance(stmt, ast.AugAssign) and type(stmt.op) in OPS and _is_array_ref(stmt.target) and _is_expr(stmt.value):
        return "compute"
    if isinstance(stmt, ast.Expr):
        call = stmt.value
        if _is_np_call(call, UFUNCS) and len(call.args) == 3 and all(map(_is_expr, call.args[:2])):
            return "compute" if _is_array_ref(call.args[2]) else None
        if _is_np_call(call, {"tanh"}) and len(call.args) == 2 and _is_expr(call.args[0]):
            return "compute" if _is_array_ref(call.args[1]) else None
    return None


def _key(node, aliases):
    """The array a reference names: a Name through the aliases seen so far, else the text."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    return ast.unparse(node)


def _refs(node):
    """Array references in an expression, outermost first (not inside a subscript's index)."""
    if isinstance(node, ast.BinOp):
        return _refs(node.left) + _refs(node.right)
    if isinstance(node, ast.UnaryOp):
        return _refs(node.operand)
    if isinstance(node, ast.Call):
        return [r for a in node.args for r in _refs(a)]
    return [node] if _is_array_ref(node) else []


def _statement_refs(stmt):
    if isinstance(stmt, ast.Assign):
        return _refs(stmt.targets[0]) + _refs(stmt.value)
    if isinstance(stmt, ast.AugAssign):
        return _refs(stmt.target) + _refs(stmt.value)
    return _refs(stmt.value)


def _names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _index_names(stmt):
    """Names a statement's subscripts index with (X and t of X[t]): must not change in its run."""
    return {name for ref in _statement_refs(stmt) if isinstance(ref, ast.Subscript) for name in _names_in(ref)}


def _assigned(stmt):
    target = stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
    return {target.id} if isinstance(target, ast.Name) else set()


def _maximal_runs(stmts):
    """[(start, stop)]: consecutive elementwise statements, none indexing with a name assigned
    earlier in the run (its views are taken once, before the loop)."""
    out, start, assigned = [], None, set()
    for i, stmt in enumerate(stmts + [None]):
        what = kind(stmt) if stmt is not None else None
        if start is not None and (what is None or _index_names(stmt) & assigned):
            out.append((start, i))
            start = None
        if what is not None and start is None:
            start, assigned = i, set()
        if what is not None:
            assigned |= _assigned(stmt)
    return out


def _components(stmts):
    """The array set of each statement (None for an alias): a union over the arrays the
    computing statements read and write, through aliases; a column (the mask) joins nothing."""
    parent, aliases, keys_of = {}, {}, []

    def find(k):
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k
    for stmt in stmts:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else None
        if kind(stmt) == "alias":
            aliases[target.id] = _key(stmt.value, aliases)
            keys_of.append(None)
            continue
        keys = [_key(r, aliases) for r in _statement_refs(stmt)
                if r is not target and not (isinstance(r, ast.Subscript) and r.value.id in COLUMNS)]
        if isinstance(target, ast.Name):  # a new array under this name
            aliases.pop(target.id, None)
            keys.append(target.id)
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
        keys_of.append(keys[0] if keys else "")
    return [None if k is None else find(k) for k in keys_of]


def runs(stmts):
    """[(start, stop)] of the runs to fuse in a block: maximal elementwise runs, split where the
    array set changes (so each loop has one shape), with at least MIN_STATEMENTS computing ones."""
    out = []
    for start, stop in _maximal_runs(stmts):
        parts, current, first = [], None, start
        for i, component in enumerate(_components(stmts[start:stop]), start):
            if component is not None and current is not None and component != current:
                parts.append((first, i))
                first = i
            current = component if component is not None else current
        parts.append((first, stop))
        out += [(a, b) for a, b in parts
                if sum(kind(s) == "compute" for s in stmts[a:b]) >= MIN_STATEMENTS]
    return out


def _exposed(stmts):
    """Names a run reads before it assigns them (in a loop: what it needs from its last step)."""
    names, assigned = set(), set()
    for stmt in stmts:
        names |= loaded_names([stmt]) - assigned
        assigned |= _assigned(stmt)
    return names


def loaded_names(nodes) -> set:
    """Names a list of statements reads (an augmented assignment's target included)."""
    names = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                names.add(n.id)
            elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                names.add(n.target.id)
    return names


def fuse_kernel(fn: ast.FunctionDef) -> ast.FunctionDef:
    """`fn` with every fusable run of its loops' bodies (and their ifs) rewritten (module docstring)."""
    fn = copy.deepcopy(fn)
    fn.body = _fuse_block(fn.body, False, [], [0])
    return fn


def _fuse_block(stmts, in_loop, outer, counter):
    """`outer`: the other statements that may run after this block (where a value it leaves may
    be read); `in_loop`: the block runs again (a loop's body, or inside one)."""
    spans = dict(runs(stmts)) if in_loop else {}
    new, i = [], 0
    while i < len(stmts):
        if i in spans:
            stop = spans[i]
            run = stmts[i:stop]
            live = loaded_names(stmts[stop:] + [s for block in outer for s in block])
            if in_loop:
                live |= loaded_names(stmts[:i]) | _exposed(run)
            counter[0] += 1
            new.extend(_fused(run, live, counter[0]))
            i = stop
            continue
        stmt = stmts[i]
        rest = outer + [stmts[i + 1:]] + ([stmts[:i]] if in_loop else [])
        if isinstance(stmt, ast.For):
            stmt.body = _fuse_block(stmt.body, True, rest, counter)
        elif isinstance(stmt, ast.If):
            stmt.body = _fuse_block(stmt.body, in_loop, rest + ([stmt.orelse] if in_loop else []), counter)
            stmt.orelse = _fuse_block(stmt.orelse, in_loop, rest + ([stmt.body] if in_loop else []), counter)
        new.append(stmt)
        i += 1
    return new


class _Run:
    """The fused loop of one run: symbolic execution of its statements over one element."""

    def __init__(self, tag):
        self.tag = tag
        self.views = {}      # key -> view var (an array the run reads or writes in place)
        self.view_expr = {}  # view var -> the expression it is
        self.columns = {}    # key -> column var (a (B, 1) mask)
        self.written = []    # view vars stored to
        self.value = {}      # object (view var or fresh id) -> scalar var holding its value now
        self.sources = {}    # fresh object -> the view and column vars its value is computed from
        self.loaded = []     # objects the expression being computed has loaded
        self.env = {}        # name -> object, for the names the run binds or has read
        self.consts = {}     # constant text -> var
        self.body = []       # the element loop's statements
        self.used = []       # view vars the loop reads or writes (an alias alone needs no check)
        self.last_read = {}  # view var -> the statement that last reads it
        self.first_write = {}  # view var -> the statement that first writes it
        self.position = 0
        self.n = 0

    def fresh(self, prefix):
        self.n += 1
        return f"_{prefix}{self.tag}_{self.n}"

    def view(self, node):
        key = ast.unparse(node)
        if isinstance(node, ast.Subscript) and node.value.id in COLUMNS:
            if key not in self.columns:
                self.columns[key] = self.fresh("fm")
                self.view_expr[self.columns[key]] = key
            return ("column", self.columns[key])
        if isinstance(node, ast.Name) and node.id in self.env:
            return self.env[node.id]
        if key not in self.views:
            var = self.fresh("fv")
            self.views[key] = var
            self.view_expr[var] = key
        obj = ("view", self.views[key])
        if isinstance(node, ast.Name):
            self.env[node.id] = obj
        return obj

    def load(self, obj):
        self.loaded.append(obj)
        if obj[0] == "column":
            return f"{obj[1]}r"
        if obj[0] == "view" and obj[1] not in self.used:
            self.used.append(obj[1])
        if obj[0] == "view":
            self.last_read[obj[1]] = self.position
        if obj not in self.value:
            var = self.fresh("s")
            self.body.append(f"{var} = {obj[1]}r[_j]")
            self.value[obj] = var
        return self.value[obj]

    def expr(self, node):
        """-> text of a scalar expression (its parts computed into vars in order)."""
        if isinstance(node, ast.Constant) or (isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)):
            text = ast.unparse(node)
            if text not in self.consts:
                self.consts[text] = self.fresh("fk")
            return self.consts[text]
        if isinstance(node, ast.UnaryOp):
            return self.compute(f"-{self.expr(node.operand)}")
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            return self.compute(f"{left} {OPS[type(node.op)]} {right}")
        if isinstance(node, ast.Call):  # DERIVS, the prelude's operations in its order
            y, one = self.expr(node.args[0]), self.expr(ast.Constant(1))
            if node.func.id == "_tanh_deriv":
                return self.compute(f"{one} - {self.compute(f'{y} * {y}')}")
            return self.compute(f"{self.compute(f'{one} - {y}')} * {y}")
        return self.load(self.view(node))

    def compute(self, text):
        var = self.fresh("s")
        self.body.append(f"{var} = {text}")
        return var

    def store(self, target, value):
        """target (a Name or X[i]) = the scalar `value`: into the object it names, in place."""
        obj = self.view(target)
        if obj[0] == "column":
            raise ValueError("a fused run cannot write the mask")
        self.value[obj] = value
        if obj[0] == "view" and obj[1] not in self.written:
            self.written.append(obj[1])
        if obj[0] == "view" and obj[1] not in self.used:
            self.used.append(obj[1])
        if obj[0] == "view":
            self.first_write.setdefault(obj[1], self.position)

    def read_before(self, w, v):
        """Is every read of v before (or in) the statement that first writes w?  Then v may be
        the very same view as w (the lowering stores a tanh over its input: P_n_a = S_n)."""
        return v not in self.first_write and self.last_read.get(v, -1) <= self.first_write[w]

    def statement(self, stmt):
        self.position += 1
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            if _is_array_ref(stmt.value):  # an alias: the same object
                self.env[name] = self.view(stmt.value)
            else:
                obj = ("fresh", self.fresh("fa"))
                self.loaded = []
                self.value[obj] = self.expr(stmt.value)
                self.sources[obj] = list(dict.fromkeys(
                    var for o in self.loaded for var in (self.sources[o] if o[0] == "fresh" else [o[1]])))
                self.env[name] = obj
        elif isinstance(stmt, ast.Assign):
            self.store(stmt.targets[0], self.expr(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            current = self.expr(stmt.target)
            self.store(stmt.target, self.compute(f"{current} {OPS[type(stmt.op)]} {self.expr(stmt.value)}"))
        else:
            call = stmt.value
            if call.func.attr == "tanh":
                value = self.compute(f"_tanh_scalar({self.expr(call.args[0])})")
            else:
                op = OPS[UFUNCS[call.func.attr]]
                value = self.compute(f"{self.expr(call.args[0])} {op} {self.expr(call.args[1])}")
            self.store(call.args[-1], value)


def _widest(names):
    """Text of the array of most dimensions among `names` (the first of them if several): numba
    resolves it by type (numba_fused._widest)."""
    text = names[-1]
    for name in reversed(names[:-1]):
        text = f"_widest({name}, {text})"
    return text


def _fused(stmts, live_after, tag):
    """The `if checks: fused loop else: stmts` statement of one run (module docstring).

    The loop runs over the shape of `ref`: the first view written in place (numpy's output has
    the shape of the operation), else the widest of the run's arrays.  A 1-D view read (a bias
    row) is read as every row; one written must have ref's shape (numpy's would too).  A value
    kept in an array has the rank of the widest of the arrays it is computed from, as numpy's
    (a run keeping a value of mask columns alone, (B, 1) in numpy, is not fused)."""
    run = _Run(tag)
    for stmt in stmts:
        run.statement(stmt)
    bound = {name for stmt in stmts for name in _assigned(stmt)}
    live = {name: run.env[name] for name in sorted(bound & live_after)}
    kept = sorted({obj for obj in live.values() if obj[0] == "fresh"}, key=lambda o: o[1])
    views = [v for v in run.views.values() if v in run.used]
    columns = list(run.columns.values())
    fallback = copy.deepcopy(stmts)
    if not views or any(not set(run.sources[obj]) - set(columns) for obj in kept):
        # nothing but scalars, or a value of (B, 1) columns alone read after the run: leave it
        return _parsed_if("False", [], fallback, [])
    lines = [f"{v} = {run.view_expr[v]}" for v in run.views.values()] + [f"{c} = {run.view_expr[c]}" for c in columns]
    ref = run.written[0] if run.written else f"_fref{tag}"
    if not run.written:
        lines.append(f"{ref} = {_widest(views + columns)}")
    checks = [f"{'_full' if v in run.written else '_full_or_row'}({v}, {ref})" for v in views]
    checks += [f"_column({c}, {ref})" for c in columns]
    pairs = [(w, v, run.read_before(w, v)) for i, w in enumerate(run.written) for v in views
             if v != w and (v not in run.written or run.written.index(v) > i)]
    checks += [f"{'_apart_or_same' if same else '_apart'}({w}, {v})" for w, v, same in pairs]
    checks += [f"_apart({w}, {c})" for w in run.written for c in columns]
    # a read-only view that may be the very view written: read from a copy of it where it is
    # (numba_fused._unshared: LLVM vectorises no loop whose rows read and written overlap)
    shared = {}
    for w, v, same in pairs:
        if same:
            shared.setdefault(v, []).append(f"_same({w}, {v})")
    inner = [f"{var} = {ref}.dtype.type({text})" for text, var in run.consts.items()]
    inner += [f"{obj[1]} = _kept({ref}, {_widest(run.sources[obj])})" for obj in kept]
    inner += [f"{v}u = _unshared({v}, {' | '.join(tests)})" for v, tests in shared.items()]
    rows = [f"{v}r = _row({v}u, _r)" if v in shared else f"{v}r = _row({v}, _r)" for v in views]
    rows += [f"{c}r = {c}[_r, 0]" for c in columns]
    rows += [f"{obj[1]}r = _row({obj[1]}, _r)" for obj in kept]
    stores = [f"{v}r[_j] = {run.value[('view', v)]}" for v in run.written]
    stores += [f"{obj[1]}r[_j] = {run.value[obj]}" for obj in kept]
    loop = ([f"for _r in range(_nrows({ref})):"] + ["    " + r for r in rows]
            + [f"    for _j in range({ref}.shape[-1]):"] + ["        " + s for s in run.body + stores])
    binds = [f"{name} = {obj[1]}" for name, obj in live.items()]
    # `&`, not `and`: one basic block, not one per check (LLVM's time grows with the blocks)
    test, partial = _conjunction(checks, tag)
    return _parsed_if(test, lines + partial, fallback, inner + loop + binds)


CHECKS_PER_LINE = 32  # a chain of `&` nests one level per operand: ast.unparse recurses into it


def _conjunction(checks, tag):
    """(test, lines): `checks` joined by `&`, in statements of at most CHECKS_PER_LINE checks each
    (`_ok<tag>_k = …`) when there are more, so no expression nests deeper than that: a run of
    14 gates has ~400 pairwise checks, and one chain of them overflowed Python's recursion."""
    if len(checks) <= CHECKS_PER_LINE:
        return " & ".join(checks), []
    chunks = [checks[i:i + CHECKS_PER_LINE] for i in range(0, len(checks), CHECKS_PER_LINE)]
    names = [f"_ok{tag}_{k}" for k in range(len(chunks))]
    return " & ".join(names), [f"{name} = {' & '.join(chunk)}" for name, chunk in zip(names, chunks)]


def _parsed_if(test, before, fallback, body):
    text = "\n".join(before + [f"if {test}:"] + ["    " + line for line in (body or ["pass"])] + ["else:", "    pass"])
    nodes = ast.parse(text).body
    node = nodes[-1]
    node.orelse = fallback
    setattr(node, MARK, True)
    return nodes  # the hoisted views, then the if
