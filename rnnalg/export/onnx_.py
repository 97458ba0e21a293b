"""The ONNX target: a checked program as two ONNX models (opset 17, float32), for onnxruntime.

    export_onnx(program, "dots.onnx", params)   # writes dots.onnx and dots.step.onnx

* `dots.onnx` — the whole sequence, with rnnalg's three phases (DESIGN §2): the pre phase
  as whole-sequence ops on (T, B, ·), one `Scan` whose body is the scan phase of one step,
  the post phase again on (T, B, ·).
      inputs   each spec input: (T, B, W) float32, a token[V] input (T, B) int64;
               each state by its name (`h`): the initial state (B, W) (zeros: a fresh start);
               `mask` (T, B) float32: 1 for a real step, 0 for padding (a padded step keeps
               the state, h_t = h_{t-1} + m_t (f(…) − h_{t-1}), as rnnalg's lowering does).
      outputs  each spec output by its name (`y`): sigmoid probabilities (binary), softmax
               probabilities (token) or the predicted value (real), (T, B, W);
               `y.logits`: the logits before the link (what `Model.forward` returns);
               each next state by its name (`h'`): the state after the last step (B, W).
* `dots.step.onnx` — one step with explicit state in and out (streaming, sampling): the
  same names, without T and without `mask` (x: (B, W) or (B,) int64; h: (B, W) in; y,
  y.logits: (B, W), h': (B, W) out).  Run step by step it reproduces the sequence model.

Parameters are initialisers named as in rnnalg (`h'.W_x`, `y.b`, …), float32.  The graphs
are inference graphs: `dropout` is the identity (as in rnnalg's evaluation).  The spec text,
its sizes and the meaning of the names ride along in the models' metadata.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import writable_reason, write_atomic_all
from ..errors import ResourceError, UsageError, quote, spec_error
from ..ir import Program
from ..phases import POST, PRE, SCAN, phases
from .onnx_graph import FLOAT, INT64, Builder, to_proto
from .onnx_rules import OPSET, OnnxSite, add_all, affine_terms, onnx_link_rules, onnx_rules

STEP_SUFFIX = ".step.onnx"
IR_VERSION = 8  # the ONNX IR of opset 17 (onnx 1.12): readable by onnxruntime ≥ 1.12
MAX_BYTES = (2 << 30) - (64 << 20)  # a protobuf holds at most 2 GB; leave room for the graph
INSTALL = "pip install 'rnnalg[export-onnx]'"
MEANING = {"binary": "sigmoid probabilities of the units", "token": "softmax probabilities of the tokens",
           "real": "the predicted value"}  # an output's kind -> what its graph output holds (onnx_link_rules)


def step_path(path) -> Path:
    """Where the one-step model goes: `dots.onnx` -> `dots.step.onnx` (`m` -> `m.step.onnx`)."""
    path = Path(path)
    stem = path.name[:-5] if path.name.endswith(".onnx") else path.name
    return path.with_name(stem + STEP_SUFFIX)


def export_onnx(program, path, params=None):
    """Write the sequence model to `path` and the one-step model beside it (`step_path`).

    program: an `ir.Program` (or a compiled `Model`); params: name -> array as
    `Model.init_params` returns (a checkpoint's), None for rnnalg's default init drawn with
    `np.random.default_rng(0)`.  -> (sequence path, step path)."""
    program = getattr(program, "program", program)  # a compiled Model carries its program
    if not isinstance(program, Program):
        raise UsageError(f"export_onnx: expected a checked program (rnnalg.load_program), got {type(program).__name__}")
    onnx = _require_onnx()
    params = checked_params(program, params)
    path = Path(path)
    reason = writable_reason(path.parent)
    if reason:
        raise UsageError(f"{path}: cannot write the ONNX model there: {reason}")
    names = interface_names(program)
    graphs = {path: sequence_graph(program, params, names), step_path(path): step_graph(program, params, names)}
    blobs = {}
    for where, graph in graphs.items():  # everything checked and serialised before a file is written
        model = onnx.helper.make_model(to_proto(graph), opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                       ir_version=IR_VERSION, producer_name="rnnalg", doc_string=graph.doc)
        onnx.helper.set_model_props(model, _metadata(program, names, graph.name))
        onnx.checker.check_model(model, full_check=True)
        blobs[where] = model.SerializeToString()
    try:  # both files or neither: a Ctrl-C or error between them leaves no model without its step
        write_atomic_all(blobs)
    except OSError as err:
        raise UsageError(f"{err.filename or path}: cannot write the ONNX model: {err.strerror or err}") from None
    return tuple(blobs)


def _require_onnx():
    try:
        import onnx
        import onnx.checker  # noqa: F401
    except ImportError as err:
        raise UsageError(f"the ONNX export needs the onnx package ({err}): {INSTALL}") from None
    return onnx


def checked_params(program: Program, params) -> dict:
    """name -> float32 array of every parameter; UsageError naming a missing, unknown or misshapen one."""
    if params is None:
        from ..model import Model
        params = Model(program, np.float32, backend="numpy").init_params(np.random.default_rng(0))
    want = {p.name: p.shape for p in program.params}
    missing = [n for n in want if n not in params]
    unknown = [n for n in params if n not in want]
    if missing or unknown:
        parts = ([f"lacks {', '.join(map(quote, missing))}"] if missing else []) + \
                ([f"holds unknown {', '.join(map(quote, map(str, unknown)))}"] if unknown else [])
        raise UsageError(f"export onnx: params {' and '.join(parts)} (the spec {program.file} "
                         f"has {', '.join(map(quote, want))})")
    out = {}
    for name, shape in want.items():
        try:
            value = np.asarray(params[name], dtype=np.float32)
        except (TypeError, ValueError):
            raise UsageError(f"export onnx: parameter {quote(name)} is not an array of numbers") from None
        if value.shape != tuple(shape):
            raise UsageError(f"export onnx: parameter {quote(name)} has shape {value.shape}, "
                             f"the spec {program.file} needs {tuple(shape)}")
        out[name] = value
    total = sum(v.nbytes for v in out.values())
    if total > MAX_BYTES:
        raise ResourceError(f"export onnx: the parameters take {total / 2**30:.2f} GB in float32; an ONNX "
                            f"file holds at most 2 GB (use smaller sizes, --set)")
    return out


def interface_names(program: Program) -> dict:
    """The graph input and output names: spec names, `mask`, `<output>.logits` (a spec
    never names a value `mask`.logits; a spec value named `mask` moves the mask to `mask_`)."""
    taken = {v.name for v in program.inputs} | {s.prev.name for s in program.states} | \
            {h.output.name for h in program.heads}
    mask = "mask"
    while mask in taken:
        mask += "_"
    return {"mask": mask, "logits": {h.output.name: f"{h.output.name}.logits" for h in program.heads}}


# ---- the graphs -------------------------------------------------------------------------------
def _value(g: Builder, e, val: dict, lead: int, out: str) -> str:
    """One eqn on the values `val` (name -> graph name) with `lead` leading axes; -> `out`."""
    if e.op == "affine":
        pairs = [(val[a.name], a.kind, w) for a, w in zip(e.args, e.params)]
        return add_all(g, [e.params[-1]] + affine_terms(g, pairs), out)
    if any(a.kind == "token" for a in e.args):
        raise _unsupported(e, "a token read by an op other than ⊕")
    site = OnnxSite(a=val[e.args[0].name], b=val[e.args[1].name] if len(e.args) > 1 else "", out=out,
                    lead=lead, width=e.args[0].width, attrs=dict(e.attrs), params=tuple(e.params))
    try:
        return onnx_rules[e.op](g, site)
    except NotImplementedError as err:
        raise _unsupported(e, str(err)) from None


def _unsupported(e, why: str):
    return spec_error("onnx-unsupported", f"the ONNX export cannot express {e.op!r} in the equation of "
                      f"{quote(e.out.name)} ({why})", e.span)


def _heads_and_states(g: Builder, program: Program, val: dict, names: dict, lead: int, final: dict):
    """Graph outputs: each output's link and logits, then each next state (`final`: name -> graph name)."""
    shape = ("T", "B") if lead == 2 else ("B",)
    outputs = []
    for h in program.heads:
        logits = names["logits"][h.output.name]
        g.op("Identity", val[h.logits.name], out=logits)
        onnx_link_rules[h.output.kind](g, val[h.logits.name], h.output.name)
        outputs += [(h.output.name, FLOAT, shape + (h.output.width,), MEANING[h.output.kind]),
                    (logits, FLOAT, shape + (h.output.width,), f"the logits of {h.output.name}, before the link")]
    for s in program.states:
        if final[s.next.name] != s.next.name:
            g.op("Identity", final[s.next.name], out=s.next.name)
        outputs.append((s.next.name, FLOAT, ("B", s.next.width),
                        f"{s.prev.name} after the {'last ' if lead == 2 else ''}step"))
    return outputs


def _inputs(program: Program, lead: int):
    def shape(v):  # a static input has one value per sequence: (B, ·) in both graphs
        return ("T", "B") if lead == 2 and v.name not in program.static_inputs else ("B",)
    return ([(v.name, INT64, shape(v), f"token ids 0..{v.width - 1}") if v.kind == "token"
             else (v.name, FLOAT, shape(v) + (v.width,), f"{v.kind}[{v.width}] values") for v in program.inputs]
            + [(s.prev.name, FLOAT, ("B", s.prev.width), f"{s.prev.name} before the {'first ' if lead == 2 else ''}step "
                "(zeros at the start)") for s in program.states])


def step_graph(program: Program, params: dict, names: dict):
    """One step: every eqn in order on (B, ·) values; inputs and states in, outputs and next states out."""
    g = Builder("step")
    _tied(g, program)
    val = {v.name: v.name for v in program.inputs}
    val.update({s.prev.name: s.prev.name for s in program.states})
    for e in program.eqns:
        val[e.out.name] = _value(g, e, val, 1, f"step/{e.out.name}")
    outputs = _heads_and_states(g, program, val, names, 1, val)
    return g.graph("rnnalg_step", _inputs(program, 1), outputs, sorted(params.items()), _doc(program, "step"))


def sequence_graph(program: Program, params: dict, names: dict):
    """The whole sequence: pre ops on (T, B, ·), a Scan of the scan phase, post ops on (T, B, ·)."""
    phase = phases(program)
    g = Builder("seq")
    _tied(g, program)
    val = {v.name: v.name for v in program.inputs}
    first = next(v.name for v in program.inputs if v.name not in program.static_inputs)
    for name in program.static_inputs:  # (B, ·) -> (T, B, ·): the same value at every step
        steps = g.op("Shape", first, start=0, end=1)
        full = g.op("Concat", steps, g.op("Shape", name), axis=0)
        val[name] = g.op("Expand", g.op("Unsqueeze", name, g.const([0], np.int64)), full, out=f"seq/{name}")
    for e in program.eqns:
        if phase[e.out.name] == PRE:
            val[e.out.name] = _value(g, e, val, 2, f"seq/{e.out.name}")
    if program.states:
        _scan(g, program, phase, val, names["mask"])
    for e in program.eqns:
        if phase[e.out.name] == POST:
            val[e.out.name] = _value(g, e, val, 2, f"seq/{e.out.name}")
    outputs = _heads_and_states(g, program, val, names, 2, {s.next.name: s.next.name for s in program.states})
    inputs = _inputs(program, 2) + [(names["mask"], FLOAT, ("T", "B"), "1 at a real step, 0 at padding "
                                                                        "(a padded step keeps the states)")]
    return g.graph("rnnalg_sequence", inputs, outputs, sorted(params.items()), _doc(program, "sequence"))


def _tied(g: Builder, program: Program) -> None:
    """Each tied softmax weight as a node: the transpose of its embedding (an initialiser)."""
    for tied, source in program.ties:
        g.op("Transpose", source, out=tied, perm=[1, 0])


def _scan(g: Builder, program: Program, phase: dict, val: dict, mask: str) -> None:
    """Append the Scan of the scan phase to `g`, its final states named as the next states
    (`h'`); add the stacked (T, B, ·) values that the post phase and the heads read to `val`.

    Body inputs: the states h_{t-1}, then step t of each pre value the scan reads, of the
    input terms + bias of each scan affine that has some (computed here for all steps at
    once, as rnnalg's pre phase does), and of the mask (B, 1).  Body outputs: the next
    states (masked), then the scan values read after the scan."""
    body = Builder("scan")
    scan_eqns = [e for e in program.eqns if phase[e.out.name] == SCAN]
    bval = {s.prev.name: f"scan/{s.prev.name}" for s in program.states}
    body_inputs = [(bval[s.prev.name], FLOAT, ("B", s.prev.width)) for s in program.states]
    outer_scanned = []
    for e in scan_eqns:  # the pre values a scan op reads (an affine's go into its pre part)
        for a in ([] if e.op == "affine" else e.args):
            if phase[a.name] == PRE and a.name not in bval:
                bval[a.name] = f"scan/{a.name}"
                body_inputs.append((bval[a.name], FLOAT, ("B", a.width)))
                outer_scanned.append(val[a.name])
    pre_part = {}
    for e in scan_eqns:
        pre = [(val[a.name], a.kind, w) for a, w in zip(e.args, e.params) if phase[a.name] == PRE]
        if e.op == "affine" and pre:
            outer_scanned.append(add_all(g, [e.params[-1]] + affine_terms(g, pre), f"seq/{e.out.name}.pre"))
            pre_part[e.out.name] = f"scan/{e.out.name}.pre"
            body_inputs.append((pre_part[e.out.name], FLOAT, ("B", e.out.width)))
    outer_scanned.append(g.op("Unsqueeze", mask, g.const([-1], np.int64)))
    m = "scan/mask"
    body_inputs.append((m, FLOAT, ("B", 1)))

    next_of = {s.next.name: s for s in program.states}
    for e in scan_eqns:
        if e.op == "affine":
            state_pairs = [(bval[a.name], a.kind, w) for a, w in zip(e.args, e.params) if phase[a.name] != PRE]
            terms = affine_terms(body, state_pairs) + [pre_part.get(e.out.name, e.params[-1])]
            bval[e.out.name] = add_all(body, terms, f"scan/{e.out.name}")
            continue
        if e.out.name not in next_of:
            bval[e.out.name] = _value(body, e, bval, 1, f"scan/{e.out.name}")
            continue
        new, prev = _value(body, e, bval, 1, body.name()), bval[next_of[e.out.name].prev.name]
        # a padded step keeps its state: h' = h + m (f(…) − h); later ops read the masked h', as in rnnalg
        bval[e.out.name] = body.op("Add", prev, body.op("Mul", m, body.op("Sub", new, prev)), out=f"scan/{e.out.name}")

    later = [e for e in program.eqns if phase[e.out.name] == POST]
    read = [a.name for e in later for a in e.args] + [h.logits.name for h in program.heads]
    stacked = list(dict.fromkeys(n for n in read if phase[n] == SCAN))
    body_outputs = [(bval[s.next.name], FLOAT, ("B", s.next.width)) for s in program.states]
    for name in stacked:  # an Identity each: a body output may not repeat a name or be a body input
        body_outputs.append((body.op("Identity", bval[name]), FLOAT, ("B", _width(program, name))))
    graph = body.graph("rnnalg_scan_step", body_inputs, body_outputs)
    g.multi("Scan", [s.prev.name for s in program.states] + outer_scanned,
            [s.next.name for s in program.states] + [f"seq/{n}" for n in stacked],
            body=graph, num_scan_inputs=len(outer_scanned))
    val.update({n: f"seq/{n}" for n in stacked})


def _width(program: Program, name: str) -> int:
    for s in program.states:
        if s.prev.name == name:
            return s.prev.width
    return program.producer(name).out.width


def _doc(program: Program, which: str) -> str:
    return (f"rnnalg {which} model of {program.file} (see rnnalg/export/onnx_.py for the names and shapes); "
            f"dropout is off (inference)")


def _metadata(program: Program, names: dict, graph_name: str) -> dict:
    """The model's metadata_props: where it comes from and what its names mean."""
    props = {"rnnalg.graph": graph_name, "rnnalg.spec_file": str(program.file), "rnnalg.spec": program.text or "",
             "rnnalg.sizes": json.dumps(dict(program.sizes)),
             "rnnalg.outputs": json.dumps({h.output.name: {"kind": h.output.kind, "logits": names["logits"][h.output.name]}
                                           for h in program.heads})}
    if graph_name == "rnnalg_sequence":
        props["rnnalg.mask_input"] = names["mask"]
    return props
