"""A framework-free record of an ONNX graph, and its conversion to `onnx` protos.

The rules (onnx_rules.py) and the graph assembly (onnx_.py) only append `Node`s to a
`Builder`; `to_proto` is the one place that touches the `onnx` package, so everything
above it can be read and tested without onnx installed.

    b = Builder("seq")
    y = b.op("Tanh", "x")                       # -> 'seq#1' (a temporary)
    z = b.op("Relu", y, out="seq/z")            # a value of the spec keeps its name
    g = b.graph("model", inputs=[("x", FLOAT, ("T", "B", 3))], outputs=[("y", FLOAT, ...)])
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLOAT, INT64 = "float", "int64"  # element types of graph inputs and outputs


@dataclass(frozen=True)
class Node:
    """`outputs = op_type[attrs](*inputs)`; an attribute may be a `Graph` (a Scan body)."""

    op_type: str
    inputs: tuple
    outputs: tuple
    attrs: tuple = ()  # ((name, value), ...)


@dataclass(frozen=True)
class Graph:
    """A graph: inputs and outputs are (name, element type, shape[, doc]); a dim is an int,
    a symbolic name (str) or None (unknown)."""

    name: str
    inputs: tuple
    outputs: tuple
    nodes: tuple
    initializers: tuple = ()  # (name, float32 array)
    doc: str = ""


@dataclass
class Builder:
    """Appends nodes; every value it names starts with `scope`, so two builders never clash."""

    scope: str
    nodes: list = field(default_factory=list)
    count: int = 0

    def name(self) -> str:
        """A fresh temporary's name, `scope#N` (the values of spec names are `scope/name`)."""
        self.count += 1
        return f"{self.scope}#{self.count}"

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        """Append one single-output node; -> its output name (`out`, or a fresh one)."""
        out = out or self.name()
        self.nodes.append(Node(op_type, tuple(inputs), (out,), tuple(sorted(attrs.items()))))
        return out

    def multi(self, op_type: str, inputs, outputs, **attrs) -> None:
        """Append a node with several outputs (Scan)."""
        self.nodes.append(Node(op_type, tuple(inputs), tuple(outputs), tuple(sorted(attrs.items()))))

    def const(self, value, dtype=np.float32) -> str:
        """A Constant node holding `value` (a number or a list) as an array of `dtype`."""
        return self.op("Constant", value=np.asarray(value, dtype=dtype))

    def graph(self, name, inputs, outputs, initializers=(), doc="") -> Graph:
        return Graph(name, tuple(inputs), tuple(outputs), tuple(self.nodes), tuple(initializers), doc)


def to_proto(graph: Graph):
    """The `onnx.GraphProto` of `graph` (imports onnx: call only after checking it is there)."""
    from onnx import TensorProto, helper, numpy_helper

    types = {FLOAT: TensorProto.FLOAT, INT64: TensorProto.INT64}

    def info(name, elem, shape, doc=""):
        return helper.make_tensor_value_info(name, types[elem], list(shape), doc_string=doc)

    def attr(value):
        if isinstance(value, Graph):
            return to_proto(value)
        if isinstance(value, np.ndarray):
            return numpy_helper.from_array(value)
        return value

    nodes = [helper.make_node(n.op_type, list(n.inputs), list(n.outputs),
                              **{k: attr(v) for k, v in n.attrs}) for n in graph.nodes]
    return helper.make_graph(
        nodes, graph.name, [info(*i) for i in graph.inputs], [info(*o) for o in graph.outputs],
        initializer=[numpy_helper.from_array(np.asarray(a, dtype=np.float32), name) for name, a in graph.initializers],
        doc_string=graph.doc)
