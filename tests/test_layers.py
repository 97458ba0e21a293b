"""rnnalg's layers (DESIGN §5): each module imports only modules of its own layer or below.

    base → front → ir → checking → lower and the other targets → data → train → sweep → commands → cli

`ir` (the checked operator graph's types) sits under `checking`, which builds it; `data` sits
beside the targets, under `train`, which reads it.  Every import statement counts, wherever it
sits (function-level imports included), so the CLI stays a thin skin and nothing below it
reaches up into `commands/` or `cli`.
"""
import pytest
from test_imports import import_graph

# lowest first; "pkg.*" is the package and every module in it, a plain name that module alone
LAYERS = (
    ("base", ("rnnalg.errors", "rnnalg.atomic", "rnnalg.values")),
    ("front", ("rnnalg.front.*", "rnnalg.api")),
    ("ir", ("rnnalg.ir", "rnnalg.phases")),
    ("checking", ("rnnalg.checking.*",)),
    ("lower and the other targets", ("rnnalg.lower.*", "rnnalg.fast.*", "rnnalg.export.*", "rnnalg.algebra.*",
                                     "rnnalg.model", "rnnalg.batch_threads", "rnnalg.model_args", "rnnalg.reference",
                                     "rnnalg.pretty", "rnnalg.testing", "rnnalg.specfile", "rnnalg")),
    ("data", ("rnnalg.data.*",)),
    ("train", ("rnnalg.train.*",)),
    ("sweep", ("rnnalg.sweep.*",)),
    ("commands", ("rnnalg.commands.*",)),
    ("cli", ("rnnalg.cli", "rnnalg.__main__")),
)


def layer_of(module: str, layers=LAYERS) -> int | None:
    """The index in `layers` of the layer that lists `module` (None: no layer does)."""
    for index, (_, names) in enumerate(layers):
        for name in names:
            package = name[:-2] if name.endswith(".*") else None
            if module == name or (package and (module == package or module.startswith(package + "."))):
                return index
    return None


def layer_violations(graph: dict, layers=LAYERS) -> list:
    """'a (layer) imports b (higher layer)' for every import that runs up the layers."""
    found = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if layer_of(dep, layers) > layer_of(module, layers):
                found.append(f"{module} ({layers[layer_of(module, layers)][0]}) imports "
                             f"{dep} ({layers[layer_of(dep, layers)][0]})")
    return found


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in import_graph() if layer_of(m) is None)
    assert not unplaced, f"give these modules a layer in tests/test_layers.py: {unplaced}"


def test_no_module_imports_a_layer_above_its_own():
    found = layer_violations(import_graph())
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_the_layer_check_sees_an_upward_import():
    graph = {"rnnalg.sweep.worker": {"rnnalg.commands.train", "rnnalg.train.launch"},
             "rnnalg.commands.train": {"rnnalg.train.launch"}, "rnnalg.train.launch": set()}
    assert layer_violations(graph) == ["rnnalg.sweep.worker (sweep) imports rnnalg.commands.train (commands)"]
    assert layer_of("rnnalg.front") == layer_of("rnnalg.front.parser") == 1
    assert layer_of("rnnalg.frontier") is None and layer_of("rnnalg") == 4


@pytest.mark.parametrize("caller", ["rnnalg.commands.train", "rnnalg.sweep.worker"])
def test_the_cli_and_the_sweep_worker_start_runs_by_the_same_function(caller):
    assert "rnnalg.train.launch" in import_graph()[caller]
