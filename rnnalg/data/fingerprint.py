"""What data a run used: a sha256 over the dataset *as loaded*, whatever file held it.

    fingerprint = sha256( "rnnalg-data-1" | kind | unit | vocabulary
                          | for split in train, valid, test: its sequence count,
                          |     then per sequence its shape and its values )

Music sequences are (T, 88) uint8 piano rolls, text splits one int32 token stream (ids into
the vocabulary, which is hashed too).  The name and path of the dataset and the file format
(JSON, npz, pickle) take no part, so `jsb.json` holding Nottingham's pieces has Nottingham's
fingerprint, and the packaged npz of JSB Chorales has that of the data folder's JSON.

`KNOWN_FINGERPRINTS` holds the fingerprint of each named dataset as rnnalg loads it by name
(default `--unit` and `--min-count`); `tests/test_data_fingerprint.py` recomputes them.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

VERSION = b"rnnalg-data-1"
SPLITS = ("train", "valid", "test")
# the dtype each kind's sequences are hashed in (little-endian, whatever the machine)
DTYPES = {"music": np.dtype("u1"), "text": np.dtype("<i4")}

KNOWN_FINGERPRINTS = {
    "jsb": "d72f278bae57925facfa897797ea06cf47ee5c82c8206714290222d12c03cd2e",
    "nottingham": "9fc4849610bae6f8cdee7056ccce62d728eb9ff32a324ebba445ccf07509d88a",
    "musedata": "7361d88840675b494db3f80c6b74cfe4a4ef0780f5fe22547bbc324596309401",
    "piano": "2d7a1b6e43a69d0a6d8ed62817dcfb3ec56cf75a7a56879f78ecb380f3a4d83a",
    "ptb-char": "aea6c14c41807a9e46f94e3298c9601842afdb21e72d676c99d293be011f880e",
    "ptb-word": "b6125b18026b196318a7a11a36e8f2fe1d506f146006f531baeb0fd5a76f4fe9",
}


def fingerprint(dataset) -> str:
    """Hex sha256 of `dataset` (a `rnnalg.data.dataset.Dataset`) as loaded (module docstring)."""
    h = hashlib.sha256(VERSION)
    dtype = DTYPES[dataset.kind]
    vocab = None if dataset.vocab is None else list(dataset.vocab)
    h.update(json.dumps([dataset.kind, dataset.unit, vocab], ensure_ascii=False).encode("utf-8"))
    for split in SPLITS:
        sequences = dataset.splits[split]
        h.update(f"|{split}:{len(sequences)}".encode())
        for seq in sequences:
            values = np.ascontiguousarray(seq, dtype=dtype)
            h.update(f"|{values.shape}".encode())
            h.update(values.tobytes())
    return h.hexdigest()


def known_name(digest: str | None) -> str | None:
    """The named dataset whose data has fingerprint `digest`, or None."""
    return next((name for name, known in KNOWN_FINGERPRINTS.items() if known and known == digest), None)
