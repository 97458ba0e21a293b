"""Checkpoints: round trip, atomic replacement, and every kind of bad checkpoint."""
import json
from dataclasses import dataclass

import numpy as np
import pytest

from rnnalg.errors import CheckpointError
from rnnalg.train import checkpoint as ckpt
from test_train_fakes import fake_program


def _arrays(scale=1.0):
    rng = np.random.default_rng(3)
    return {"param/y.W_x": (scale * rng.standard_normal((88, 88))).astype(np.float32),
            "param/y.b": np.zeros(88, np.float32), "opt/t": np.asarray(7, np.int64),
            "rng/noise": ckpt.rng_to_array(np.random.default_rng(11))}


def _save(tmp_path, scale=1.0, tag="last", **meta):
    return ckpt.save(tmp_path, tag, _arrays(scale), {"epoch": 2, **meta}, fake_program())


def test_round_trip(tmp_path):
    _save(tmp_path, best_valid=8.5)
    arrays, meta = ckpt.load(tmp_path, "last", program=fake_program())
    ref = _arrays()
    assert arrays.keys() == ref.keys()
    for k in ref:
        np.testing.assert_array_equal(arrays[k], ref[k])
        assert arrays[k].dtype == ref[k].dtype
    assert meta["epoch"] == 2 and meta["best_valid"] == 8.5
    assert meta["param_shapes"] == {"y.W_x": [88, 88], "y.b": [88]}
    assert meta["spec_text"] == "# fake\n" and meta["spec_file"] == "fake.rnn"
    assert ckpt.load(tmp_path / "last.json")[1]["sha256"] == meta["sha256"]  # a .json path works too


def test_rng_state_round_trip_continues_the_stream():
    rng = np.random.default_rng(42)
    rng.standard_normal(5)
    rng.random()  # leaves has_uint32/uinteger in some state
    copy = ckpt.rng_from_array(ckpt.rng_to_array(rng))
    np.testing.assert_array_equal(copy.standard_normal(10), rng.standard_normal(10))
    assert copy.integers(0, 2**31, 5).tolist() == rng.integers(0, 2**31, 5).tolist()


def test_replacing_removes_the_old_arrays_and_leaves_no_temp_files(tmp_path):
    _save(tmp_path, 1.0)
    _save(tmp_path, 2.0)
    _save(tmp_path, 3.0, tag="best")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if n.endswith(".json")] == ["best.json", "last.json"]
    assert len([n for n in names if n.endswith(".npz")]) == 2
    assert not [n for n in names if n.endswith(".tmp")]
    arrays, _ = ckpt.load(tmp_path, "last")
    np.testing.assert_array_equal(arrays["param/y.W_x"], _arrays(2.0)["param/y.W_x"])


def test_crash_while_writing_metadata_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    _save(tmp_path, 1.0)
    real = ckpt.write_atomic

    def crash_on_json(directory, name, write):
        if name.endswith(".json"):
            raise OSError("disk full")
        return real(directory, name, write)

    monkeypatch.setattr(ckpt, "write_atomic", crash_on_json)
    with pytest.raises(OSError):
        _save(tmp_path, 2.0)
    monkeypatch.undo()
    arrays, _ = ckpt.load(tmp_path, "last")
    np.testing.assert_array_equal(arrays["param/y.W_x"], _arrays(1.0)["param/y.W_x"])


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="last.json"):
        ckpt.load(tmp_path, "last")


def test_corrupt_json(tmp_path):
    _save(tmp_path)
    (tmp_path / "last.json").write_text('{"format": 1, "arr')
    with pytest.raises(CheckpointError, match=r"last\.json.*corrupt checkpoint metadata"):
        ckpt.load(tmp_path)


def test_incomplete_json(tmp_path):
    _save(tmp_path)
    meta = json.loads((tmp_path / "last.json").read_text())
    del meta["param_shapes"]
    (tmp_path / "last.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="missing param_shapes"):
        ckpt.load(tmp_path)


def test_missing_npz(tmp_path):
    path = _save(tmp_path)
    npz = tmp_path / json.loads(path.read_text())["arrays"]
    npz.unlink()
    with pytest.raises(CheckpointError, match=npz.name):
        ckpt.load(tmp_path)


def test_truncated_npz_is_detected(tmp_path):
    path = _save(tmp_path)
    npz = tmp_path / json.loads(path.read_text())["arrays"]
    npz.write_bytes(npz.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=f"{npz.name}.*corrupt"):
        ckpt.load(tmp_path)


def test_garbage_npz_with_matching_digest_is_a_checkpoint_error(tmp_path):
    path = _save(tmp_path)
    meta = json.loads(path.read_text())
    npz = tmp_path / meta["arrays"]
    npz.write_bytes(b"not a zip file at all")
    meta["sha256"] = ckpt._sha256(npz)
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="corrupt checkpoint array file"):
        ckpt.load(tmp_path)


def test_wrong_shape(tmp_path):
    path = _save(tmp_path)
    meta = json.loads(path.read_text())
    meta["param_shapes"]["y.b"] = [90]
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"'y\.b' has shape \(88,\), expected \(90,\)"):
        ckpt.load(tmp_path)


def test_non_finite_parameters_are_refused(tmp_path):
    arrays = _arrays()
    arrays["param/y.b"][3] = np.nan
    ckpt.save(tmp_path, "last", arrays, {}, fake_program())
    with pytest.raises(CheckpointError, match="NaN or Inf"):
        ckpt.load(tmp_path)


def test_a_different_spec_is_refused(tmp_path):
    _save(tmp_path)
    with pytest.raises(CheckpointError, match="different spec.*y.W_x: spec \\(40, 40\\) vs checkpoint \\(88, 88\\)"):
        ckpt.load(tmp_path, program=fake_program(40))
    other = fake_program()
    other = type(other)(**{**other.__dict__, "sizes": (("W", 88), ("Z", 1))})
    with pytest.raises(CheckpointError, match="different graph"):
        ckpt.load(tmp_path, program=other)


def test_same_spec_in_another_file_is_accepted(tmp_path):
    _save(tmp_path)
    moved = fake_program()
    moved = type(moved)(**{**moved.__dict__, "file": "elsewhere/copy.rnn"})
    ckpt.load(tmp_path, program=moved)


def test_never_unpickles(tmp_path):
    path = _save(tmp_path)
    meta = json.loads(path.read_text())
    obj = np.array([{"evil": 1}], dtype=object)
    ckpt.write_atomic(tmp_path, meta["arrays"], lambda f: np.savez(f, **{"param/y.b": obj}))
    meta["sha256"] = ckpt._sha256(tmp_path / meta["arrays"])
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="corrupt checkpoint array file"):
        ckpt.load(tmp_path)


# ---- hand-edited metadata: every field is checked against checkpoint.SCHEMA --------------

def _edit(tmp_path, edit):
    path = _save(tmp_path)
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(format="1"), r'field format is "1"; it must be an integer'),
    (lambda m: m.update(param_shapes={"y.W_x": [88, 88], "y.b": 88}), "field param_shapes is .*list of sizes"),
    (lambda m: m.update(param_shapes=[[88, 88], [88]]), "field param_shapes"),
    (lambda m: m["param_shapes"].update({"y.b": ["88"]}), "field param_shapes"),
    (lambda m: m.update(arrays="../elsewhere.npz"), r"field arrays .*a \.npz file in the same folder"),
    (lambda m: m.update(arrays=7), "field arrays is 7"),
    (lambda m: m.update(sha256=None), "field sha256 is null"),
    (lambda m: m.update(sizes={"W": "88"}), "field sizes"),
    (lambda m: m.update(spec_text=["h' = tanh(x)"]), "field spec_text"),
    (lambda m: m.update(config=[1, 2]), "field config is .*an object"),
])
def test_ill_typed_metadata_names_the_file_and_the_field(tmp_path, edit, message):
    _edit(tmp_path, edit)
    with pytest.raises(CheckpointError, match=r"last\.json: error: .*" + message):
        ckpt.load(tmp_path)


def test_metadata_that_is_not_an_object(tmp_path):
    _save(tmp_path)
    (tmp_path / "last.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match=r"last\.json.*not a JSON object"):
        ckpt.load(tmp_path)


@dataclass
class _Record:
    epochs: int
    lr: float | None
    name: str
    flag: bool = False


RECORDS = {"config": ckpt.record_schema(_Record)}


@pytest.mark.parametrize("config, message", [
    (None, r"missing config\)"),
    ({"epochs": 3, "lr": None, "name": "a"}, r"missing config\.flag"),
    ({"epochs": "3", "lr": None, "name": "a", "flag": True}, r'config\.epochs is "3"; it must be an integer'),
    ({"epochs": True, "lr": None, "name": "a", "flag": True}, r"config\.epochs is true"),
    ({"epochs": 3, "lr": "fast", "name": "a", "flag": True}, r"config\.lr .*a number or null"),
    ({"epochs": 3, "lr": 1, "name": "a", "flag": 0}, r"config\.flag is 0; it must be true or false"),
])
def test_records_a_caller_needs_are_required_and_typed(tmp_path, config, message):
    _save(tmp_path, **({} if config is None else {"config": config}))
    with pytest.raises(CheckpointError, match=r"last\.json: error: .*" + message):
        ckpt.load(tmp_path, records=RECORDS)


def test_an_optional_record_field_may_be_absent_but_not_ill_typed(tmp_path):
    records = {"config": ckpt.record_schema(_Record, optional=("flag",))}
    _save(tmp_path, config={"epochs": 3, "lr": None, "name": "a"})
    ckpt.load(tmp_path, records=records)
    _save(tmp_path, config={"epochs": 3, "lr": None, "name": "a", "flag": "yes"})
    with pytest.raises(CheckpointError, match="config.flag is \"yes\""):
        ckpt.load(tmp_path, records=records)


def test_a_well_formed_record_passes(tmp_path):
    _save(tmp_path, config={"epochs": 3, "lr": 1, "name": "a", "flag": False})  # an int is a number
    _, meta = ckpt.load(tmp_path, records=RECORDS)
    assert meta["config"]["epochs"] == 3
