"""Evaluation metrics from a summed negative log-likelihood (natural log) and a count.

    nll_per_step  = nll_sum / count                  (music: NLL per frame, summed over 88 notes)
    bits_per_char = nll_sum / count / ln 2
    perplexity    = exp(nll_sum / count)             (words)
"""
from __future__ import annotations

import math


def nll_per_step(nll_sum: float, count: float) -> float:
    if count <= 0:
        raise ValueError("no predicted steps (count is 0)")
    return float(nll_sum) / float(count)


def bits_per_char(nll_sum: float, count: float) -> float:
    return nll_per_step(nll_sum, count) / math.log(2)


def perplexity(nll_sum: float, count: float) -> float:
    mean = nll_per_step(nll_sum, count)
    return math.exp(mean) if mean < 709 else math.inf  # exp overflows a float beyond ~709.78


# unit -> (metric name, function)
METRICS = {
    "frame": ("nll", nll_per_step),
    "char": ("bpc", bits_per_char),
    "word": ("ppl", perplexity),
}


def metric_for(dataset):
    """(name, fn(nll_sum, count)) for the dataset: music 'nll', chars 'bpc', words 'ppl'."""
    return METRICS[dataset.unit]
