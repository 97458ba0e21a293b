"""The training configuration: one flat record, defaults filled in per data unit.

`None` in a field means "the default for this dataset / optimiser" and is resolved
by `resolve` once the dataset is known, so a checkpoint stores concrete values.

A resumed run continues with its recorded configuration; `resume_config` applies the
settings given again only where `ON_RESUME` allows it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import UsageError
from ..values import check_flag
from .optim import OPTIMIZERS

INITS = ("gaussian", "orthogonal", "sparse")

# dataset.unit -> (batch size, BPTT steps, weight noise σ).  Music: small batches and weight
# noise, because JSB Chorales overfits within ~20 epochs without them (measured: DOT(S) H=200
# test NLL 8.88 with batch 16 and no noise, 8.54 with batch 4 and σ = 0.02).
UNIT_DEFAULTS = {"frame": (4, None, 0.02), "char": (32, 100, 0.0), "word": (32, 35, 0.0)}


@dataclass
class TrainConfig:
    data: str = "jsb"
    data_dir: str | None = None
    epochs: int = 100
    batch_size: int | None = None  # per unit, UNIT_DEFAULTS
    steps: int | None = None  # BPTT length; music: None = whole pieces
    eval_batch_size: int = 64
    optimizer: str = "adam"
    lr: float | None = None  # per optimiser, OPTIMIZERS
    momentum: float = 0.9
    nesterov: bool = False
    clip: float = 1.0  # global gradient norm; 0 disables
    weight_noise: float | None = None  # std of Gaussian noise on weights and embeddings; per unit
    init: str = "gaussian"
    init_scale: float | None = None  # None: the scheme's default (gaussian 1/sqrt(total fan-in of the ⊕), else 1)
    output_bias: bool = True  # start the output bias at the train targets' log-odds / log-frequencies
    patience: int = 3  # epochs without improvement before the lr is halved
    halvings: int = 3  # stop once the lr would be halved once more than this
    seed: int = 1234
    min_count: int = 1  # text: symbols seen fewer times in the train split become <unk>
    time_limit: float | None = None  # seconds of this process, then save and stop
    threads: int | None = None  # BLAS threads; None: the BLAS's own count, recorded when the run starts

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


# TrainConfig fields checked against their flag's rule in rnnalg.values.FLAGS
FLAG_FIELDS = ("epochs", "batch_size", "steps", "lr", "momentum", "clip", "weight_noise", "init_scale",
               "patience", "halvings", "min_count", "seed", "time_limit", "threads")


def resolve(config: TrainConfig, unit: str) -> TrainConfig:
    """Fill the unit / optimiser defaults and validate the values."""
    batch_size, steps, weight_noise = UNIT_DEFAULTS[unit]
    config = config.replace(
        batch_size=config.batch_size if config.batch_size is not None else batch_size,
        steps=config.steps if config.steps is not None else steps,
        weight_noise=config.weight_noise if config.weight_noise is not None else weight_noise,
        lr=config.lr if config.lr is not None else OPTIMIZERS.get(config.optimizer, (0, 0, 0.0))[2],
    )
    for ok, message in ((config.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
                        (config.init in INITS, f"--init must be one of {', '.join(INITS)}")):
        if not ok:
            raise UsageError(message)
    for name in FLAG_FIELDS:
        check_flag("--" + name.replace("_", "-"), getattr(config, name))
    check_flag("--batch-size", config.eval_batch_size)
    return config


# TrainConfig field -> None if --resume may change it (from where the run stopped; the change
# is recorded in the checkpoint), else what it fixes, which is why it cannot change mid-run.
# A field missing here cannot change.
_BATCHES = "the batches of every epoch and the state carried between them"
ON_RESUME = {
    "epochs": None, "time_limit": None, "lr": None, "momentum": None, "nesterov": None, "clip": None,
    "weight_noise": None, "patience": None, "halvings": None, "data_dir": None, "eval_batch_size": None,
    "data": "the data the run is trained on",
    "batch_size": _BATCHES,
    "steps": _BATCHES,
    "optimizer": "the optimiser state saved in the checkpoint",
    "seed": "the random streams, whose current state the checkpoint holds",
    "init": "the initial parameters, drawn when the run started",
    "init_scale": "the initial parameters, drawn when the run started",
    "output_bias": "the initial parameters, drawn when the run started",
    "min_count": "the vocabulary, stored in the checkpoint",
    "threads": "the order in which the BLAS sums, hence every figure's last bits",
}


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def resume_config(recorded: TrainConfig, given: dict) -> tuple[TrainConfig, dict]:
    """(config to continue with, {field: (recorded, given)} for the settings that change).

    A setting given with its recorded value changes nothing; one that `ON_RESUME` forbids
    to change is a UsageError naming the flag.
    """
    changes = {k: (getattr(recorded, k), v) for k, v in given.items() if v != getattr(recorded, k)}
    for name, (old, new) in changes.items():
        if name not in ON_RESUME or ON_RESUME[name] is not None:
            reason = ON_RESUME.get(name, "the run")
            raise UsageError(f"{flag_name(name)} {new}: a resumed run keeps the recorded value "
                             f"({old}), as it fixes {reason}; drop the flag to continue the run, or "
                             f"start a new run with --out")
    return recorded.replace(**{k: new for k, (_, new) in changes.items()}), changes
