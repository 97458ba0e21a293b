"""Datasets, batching, metrics and decoding for rnnalg.

    ds = load_dataset("jsb")                       # embedded, as are nottingham, musedata, piano;
                                                   # ptb-char, ptb-word: `rnnalg data fetch ptb`
                                                   # (folders.py), or a path (see dataset.py)
    check_compatible(ds, "binary", 88, "binary", 88, "dots.rnn")
    for batch in music_batches(ds.splits["train"], 32, np.random.default_rng(0), max_steps=100):
        ...  # batch.inputs (T, B, 88), batch.targets, batch.mask (T, B), batch.reset
    name, metric = metric_for(ds)                  # ('nll', nll_per_step) / ('bpc', ...) / ('ppl', ...)
"""
from .batching import Batch, music_batches, piece_features, text_batches
from .dataset import Dataset, NAMED, check_compatible, load_dataset
from .metrics import bits_per_char, metric_for, nll_per_step, perplexity
from .music import roll_to_notes
from .text import text_to_tokens, tokens_to_text

__all__ = [
    "Batch", "Dataset", "NAMED", "bits_per_char", "check_compatible", "load_dataset", "metric_for",
    "music_batches", "nll_per_step", "perplexity", "piece_features", "roll_to_notes", "text_batches", "text_to_tokens",
    "tokens_to_text",
]
