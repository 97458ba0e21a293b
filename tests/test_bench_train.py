"""bench/train_compare.py --quick: one row of rnnalg's training updates against a PyTorch loop."""
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnalg import fast

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def train_compare(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("bench_train_compare", ROOT / "bench" / "train_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("floor", None)  # bench/floor.py, imported by the script as a top-level module


ROW = re.compile(r"\| jsb \| rnn\.rnn \| 4 \| whole pieces \| (numpy|fast) \| nn\.RNN \| ([\d.]+) \| ([\d.]+) \| "
                 r"([\d.]+)× \| (met|not met) \|")


def test_quick_prints_one_row_with_the_ratio_of_the_rates(train_compare, capsys):
    assert train_compare.main(["--quick", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("threads: 1 (BLAS and torch)")
    m = ROW.search(out)
    assert m, out
    ours, theirs, ratio = (float(m.group(i)) for i in (2, 3, 4))
    assert ours > 0 and theirs > 0
    assert ratio == pytest.approx(ours / theirs, rel=0.02, abs=0.006)
    if abs(ours / theirs - 1) > 0.02:  # the printed rates are rounded: no verdict on a tie
        assert (m.group(5) == "met") == (ours > theirs)
        assert ("profile (rnnalg, cProfile)" in out) == (ours < theirs)


def test_the_trainers_update_changes_the_parameters_and_both_loops_see_the_same_batches(train_compare):
    import torch

    trainer = train_compare.make_trainer("rnn.rnn", "jsb", 4, ["H=8"])
    before = {k: v.copy() for k, v in trainer.params.items()}
    assert train_compare.rnnalg_rate(trainer, 2) > 0
    assert any(not np.array_equal(before[k], trainer.params[k]) for k in before)  # Adam stepped
    assert int(trainer.opt_state["t"]) == 2
    first, again = train_compare.train_batches(trainer, 3), train_compare.train_batches(trainer, 3)
    assert all(np.array_equal(a.inputs, b.inputs) for a, b in zip(first, again))  # one seeded order
    net, kind = train_compare.torch_net(torch, trainer)
    assert kind == "nn.RNN"
    weights = [p.detach().clone() for p in net.noisy()]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    assert train_compare.torch_rate(torch, net, opt, first, 0.02, 1.0) > 0
    assert all(not torch.equal(w, p) for w, p in zip(weights, net.noisy()))  # Adam stepped


def test_profile_line_names_the_parts(train_compare):
    trainer = train_compare.make_trainer("dots.rnn", "jsb", 4, ["H=8"])
    line = train_compare.profile_line(trainer, 2)
    shares = dict(re.findall(r"(loss_and_grad|weight noise|clipping|Adam|data) (\d+)%", line))
    assert set(shares) == {"loss_and_grad", "weight noise", "clipping", "Adam", "data"}
    assert 0 < int(shares["loss_and_grad"]) <= 100
    assert "most self time in " in line


def test_rates_print_without_an_exponent(train_compare):
    assert [train_compare.rate(x) for x in (0.576, 25.71, 999.4, 1123.4)] == ["0.576", "25.7", "999", "1123"]


# ---- the floor columns ---------------------------------------------------------------------

def test_training_floor_is_each_batchs_products(train_compare):
    """The floor of a training row: per batch (JSB: whole pieces, padded to the longest), the
    products whose multiply-adds `rnnalg cost` gives for that batch's T and B."""
    from rnnalg.algebra.cost import cost

    trainer = train_compare.make_trainer("lstm.rnn", "jsb", 4, ["H=8"])
    batch_list = train_compare.train_batches(trainer, 2)
    per_batch = train_compare.floor_products(trainer, batch_list)
    assert len(per_batch) == 2
    for batch, products in zip(batch_list, per_batch):
        T, B = batch.mask.shape
        macs = cost(trainer.model.program, batch=B, steps=T).values["macs_training_batch"]
        assert sum(p.flops for p in products) == 2 * macs
    assert train_compare.call_rate(train_compare.floor_call(trainer, batch_list), 2) > 0


def test_training_table_prints_the_floor_and_its_share_of_pytorchs_update(train_compare):
    row = {"data": "jsb", "spec": "lstm.rnn", "B": 16, "T": "whole pieces", "backend": "fast", "torch": "nn.LSTM",
           "rnnalg": 38.4, "pytorch": 63.1, "ratio": 38.4 / 63.1, "floor": 50.0}
    text = train_compare.table([row, {**row, "floor": 70.0}, {**row, "floor": None}], 1)
    rows = [line for line in text.splitlines() if line.startswith("| jsb")]
    assert rows[0].endswith("| 0.61× | not met | 50 | 1.26 out of reach |")
    assert rows[1].endswith("| 70 | 0.90 |")
    assert rows[2].endswith("| — | — |")


def test_draws_times_the_three_draws(train_compare, capsys):
    assert train_compare.main(["--draws", "1000", "--clock", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1000 normals, cpu clock")
    assert re.findall(r"^  (numpy float64|numpy float32|normals\.fill) +\d+ µs", out, re.M) == \
        ["numpy float64", "numpy float32", "normals.fill"]


def test_scatter_times_add_at_and_the_passes_and_checks_their_bits(train_compare, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(train_compare, "SCATTER_H", (50, 200))  # the README's run: 200, 400, 700
    assert train_compare.main(["--scatter", "--clock", "cpu", "--rounds", "1", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scatter-add of g (T·B, 4H) float32 into a (V, 4H) table, cpu clock")
    loop = r", fast loop [\d.]+ ms \([\d.]+× faster\)" if fast.unavailable_reason() is None else ""
    lines = re.findall(r"^  V=(\d+) \(.+\), T·B=3200, 4H=(\d+): np\.add\.at [\d.]+ ms, _add_rows_at [\d.]+ ms "
                       r"\([\d.]+× faster\)" + loop + r", (.+)$", out, re.M)
    assert [(V, W) for V, W, _ in lines] == [(V, str(4 * H)) for V in ("50", "10000") for H in (50, 200)]
    assert {same for _, _, same in lines} == {"the same bits"}


def test_training_table_prints_the_dict_update_beside_the_new_one(train_compare):
    row = {"data": "jsb", "spec": "lstm.rnn", "B": 4, "T": "whole pieces", "backend": "fast", "torch": "nn.LSTM",
           "rnnalg": 132.0, "pytorch": 153.0, "ratio": 132 / 153, "floor": None, "dict": 107.0}
    text = train_compare.table([row], 1)
    assert "| rnnalg dict-update updates/s | flat / dict |" in text
    assert [line for line in text.splitlines() if line.startswith("| jsb")][0].endswith("| — | — | 107 | 1.23× |")


def test_training_table_prints_the_add_at_update_beside_the_new_one(train_compare):
    row = {"data": "ptb-char", "spec": "char_rnn.rnn", "B": 32, "T": "100", "backend": "fast", "torch": "nn.RNN",
           "rnnalg": 19.0, "pytorch": 16.1, "ratio": 19 / 16.1, "floor": None, "add_at": 15.2}
    text = train_compare.table([row, dict(row, spec="char_lstm.rnn", add_at=None)], 1)
    assert "| floor / PyTorch | rnnalg np.add.at updates/s | new / add.at |" in text
    assert "dict-update" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ptb-char")]
    assert rows[0].endswith("| — | — | 15.2 | 1.25× |") and rows[1].endswith("| — | — | — | — |")


def test_the_add_at_trainer_scatters_by_add_at_with_the_same_numbers(train_compare, tmp_path):
    """char_rnn.rnn (token[50]) on a text of 48 letters, space and newline, the new trainer's module
    held to the passes (the suite's numpy backend; a fast one scatters by its loop, numba_scatter):
    the np.add.at trainer's updates give its parameters bit for bit."""
    import random
    import string

    pick = random.Random(0).choice
    text = "".join(" ".join(pick(string.ascii_letters[:48]) * 3 for _ in range(9)) + "\n" for _ in range(80))
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(text)
    new = train_compare.make_trainer("char_rnn.rnn", str(tmp_path), 4, ["H=8"])
    new.model._module["_rows_in_passes"] = lambda n, passes, width: True
    fresh = {k: v.copy() for k, v in new.params.items()}
    warm = train_compare.train_batches(new, 2, seed=2)
    old = train_compare.add_at_trainer("char_rnn.rnn", str(tmp_path), 4, ["H=8"], None, warm)
    assert old.model._module["_add_rows_at"] is not new.model._module["_add_rows_at"]
    for batch in warm:
        new._update(batch)
    assert all(new.params[k].tobytes() == old.params[k].tobytes() for k in new.params)
    assert not np.array_equal(new.params["h'.W_x"], fresh["h'.W_x"])


def test_the_old_helpers_trainer_gives_the_same_numbers(train_compare, tmp_path, monkeypatch):
    """--old-helpers: char_lstm.rnn's second trainer scatters by the prelude's passes and gathers token
    rows by copy (the helpers before branch charlstm); its updates give the new trainer's parameters
    bit for bit."""
    import random
    import string

    pick = random.Random(1).choice
    text = "".join(" ".join(pick(string.ascii_letters[:48]) * 3 for _ in range(9)) + "\n" for _ in range(80))
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(text)
    if fast.unavailable_reason() is None:  # the trainer's backend, auto: the fast one (test_fast_scatter's H)
        monkeypatch.setenv("RNNALG_BACKEND", "fast")
    new = train_compare.make_trainer("char_lstm.rnn", str(tmp_path), 4, ["H=16"])
    warm = train_compare.train_batches(new, 2, seed=2)
    old = train_compare.old_helpers_trainer("char_lstm.rnn", str(tmp_path), 4, ["H=16"], None, warm)
    module = old.model._module
    assert module["_token_lookup"](None, None, None, None) is None
    if new.model.backend == "fast":
        assert new.model._module["_add_rows_at"].__module__ == "rnnalg.fast.numba_scatter"
        assert module["_add_rows_at"].__module__ != "rnnalg.fast.numba_scatter"
    for batch in warm:
        new._update(batch)
    assert all(new.params[k].tobytes() == old.params[k].tobytes() for k in new.params)


def test_the_dense_binary_trainer_makes_a_01_inputs_products_by_the_blas(train_compare):
    """--dense-binary: lstm.rnn on JSB (binary[88] in), the new trainer's module with the fast backend's
    helpers (numba_binary's sums of rows; the suite's numpy backend has none of its own), the second
    trainer's with the prelude's products: after the same updates their parameters agree to rounding
    (the input weights' gradients are the same sums in another grouping)."""
    if fast.unavailable_reason() is not None:
        pytest.skip("numba is not installed")
    new = train_compare.make_trainer("lstm.rnn", "jsb", 4, ["H=8"])
    fast.install_helpers(new.model._module)
    assert new.model._module["_mmT"].__module__ == "rnnalg.fast.numba_binary"
    fresh = {k: v.copy() for k, v in new.params.items()}
    warm = train_compare.train_batches(new, 2, seed=2)
    old = train_compare.dense_binary_trainer("lstm.rnn", "jsb", 4, ["H=8"], None, warm)
    assert all(old.model._module[k].__module__ != "rnnalg.fast.numba_binary" for k in ("_affine_into", "_mmT"))
    for batch in warm:
        new._update(batch)
    for k in new.params:
        np.testing.assert_allclose(new.params[k], old.params[k], rtol=0, atol=1e-6)
    assert not np.array_equal(new.params["i.W_x"], fresh["i.W_x"])


def test_dense_binary_flag_adds_the_blas_products_column(train_compare, monkeypatch, capsys):
    """--dense-binary builds the second trainer by dense_binary_trainer and prints its column."""
    seen = {}

    def fake_row(torch, data, spec, B, args):
        seen["dense"] = args.dense_binary
        return {"data": data, "spec": spec, "B": B, "T": "whole pieces", "backend": "fast", "torch": "nn.LSTM",
                "rnnalg": 39.3, "pytorch": 39.4, "ratio": 39.3 / 39.4, "floor": None, "dense": 35.5}
    monkeypatch.setattr(train_compare, "compare_row", fake_row)
    assert train_compare.OLD_SIDES["dense"][0] is train_compare.dense_binary_trainer
    assert train_compare.main(["--quick", "--dense-binary"]) == 0
    assert seen == {"dense": True}
    assert "| rnnalg dense binary products updates/s | new / dense |" in capsys.readouterr().out
