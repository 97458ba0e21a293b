"""Training, evaluation and sampling of compiled models (DESIGN §3).

    optim       optimisers as plain functions over a parameter dict; global-norm clipping
    flatstep    the trainer's update in flat buffers (weight noise, clipping, Adam, SGD in place),
                bit for bit as optim's functions and add_weight_noise; DictStep: the same methods over those
    normals     numpy's standard normals drawn faster (numba), the same numbers and RNG state
    adam_kernel Adam as one numba loop over the flat buffers, the same numbers
    checkpoint  atomic .npz + JSON checkpoints, validated on load
    config      the training configuration and its per-dataset defaults
    feed        dataset → model batches; whole-split evaluation
    state       what a run remembers: RunState, RNG streams, start / restore / save
    trainer     the loop: schedule, weight noise, dropout, NaN guard
    signals     Ctrl-C and SIGTERM: finish the batch, save, stop
    numerics    what figures depend on beyond the seed: BLAS threads, backend, numpy, BLAS
    session     one run as a function, train(program, run_dir, settings) -> result
    flags       the flags of a run (`rnnalg train`, sweep files' train tables)
    launch      a run from its settings, run_training(spec, settings, ...) -> result: the CLI
                and the sweep worker both call it
    monitor     progress bar, metrics.jsonl, learning curve
    runs        run directories and loading trained models for the commands
    sampling    generating piano rolls and token streams; MIDI and piano-roll output
"""
from .config import TrainConfig
from .launch import run_training
from .optim import OPTIMIZERS, clip_by_global_norm, global_norm
from .session import train
from .trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "train", "run_training", "OPTIMIZERS", "clip_by_global_norm",
           "global_norm"]
