"""Repeatability (issue 17 item 15): a run records the machine's arithmetic (BLAS thread count,
backend, numpy and BLAS), trains on its recorded thread count and backend when resumed, warns
when numpy or the BLAS changed, and reruns to the same figures."""
import json

import numpy as np
import pytest

from _shared import tiny_music_files
from rnnalg.cli import main
from rnnalg.train import numerics
from rnnalg.train.launch import run_training

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(spec path, a small music JSON: the first pieces of JSB Chorales) for fast runs."""
    return tiny_music_files(tmp_path_factory.mktemp("repeat"), 8,
                            {"train": 12, "valid": 4, "test": 4})


def _train(files, out, *flags):
    spec, data = files
    return main(["train", spec, "--data", data, "--out", str(out), "--quiet", "--lr", "0.01", *flags])


def _json(path):
    return json.loads(path.read_text())


def test_a_run_records_its_threads_backend_numpy_and_blas(files, tmp_path):
    assert _train(files, tmp_path / "run", "--epochs", "1") == 0
    now = {"backend": "numpy", "threads": numerics.blas_threads(), "numpy": np.__version__,
           "blas": numerics.blas_name()}  # tests run on numpy (conftest.py); threads: the BLAS's own
    assert now["blas"] and now["threads"] >= 1
    result = _json(tmp_path / "run" / "result.json")
    assert {k: result[k] for k in numerics.RECORDED} == now
    for tag in ("last", "best"):
        meta = _json(tmp_path / "run" / f"{tag}.json")
        assert {k: meta[k] for k in ("backend", "numpy", "blas")} == {k: now[k] for k in ("backend", "numpy", "blas")}
        assert meta["config"]["threads"] == now["threads"]


def test_a_resumed_run_trains_on_its_recorded_thread_count(files, tmp_path):
    spec, data = files
    settings = {"data": data, "lr": 0.01, "threads": 1}
    whole = run_training(spec, {**settings, "epochs": 3}, out=tmp_path / "whole", quiet=True)
    run_training(spec, {**settings, "epochs": 1}, out=tmp_path / "part", quiet=True)
    seen = []
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):  # the resuming process: 2 threads
        outside = numerics.blas_threads()
        resumed = run_training(spec, {"epochs": 3}, resume=tmp_path / "part", quiet=True,
                               on_epoch=lambda record: seen.append(numerics.blas_threads()))
        assert numerics.blas_threads() == outside  # set back after the run
    assert seen == [1, 1]  # epochs 2 and 3 on the 1 thread the run started with
    assert _json(tmp_path / "part" / "last.json")["config"]["threads"] == 1
    assert (resumed["test"], resumed["best_valid"]) == (whole["test"], whole["best_valid"])  # bit for bit


def test_resume_refuses_another_thread_count(files, tmp_path, capsys):
    assert _train(files, tmp_path / "run", "--epochs", "1", "--threads", "1") == 0
    capsys.readouterr()
    assert _train(files, tmp_path / "run", "--resume", str(tmp_path / "run"), "--threads", "2") == 2
    assert "--threads 2: a resumed run keeps the recorded value (1)" in capsys.readouterr().err


def test_a_resume_under_another_numpy_or_blas_is_warned(files, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(files, run, "--epochs", "1") == 0
    meta = _json(run / "last.json")
    meta.update(numpy="1.26.0", blas="otherblas 0.1 Zen")
    (run / "last.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert _train(files, run, "--resume", str(run), "--epochs", "2") == 0
    err = capsys.readouterr().err
    assert (f"warning: this run was trained with numpy 1.26.0 (now {np.__version__}), blas otherblas 0.1 Zen "
            f"(now {numerics.blas_name()}): from here on its figures may differ") in err
    assert _train(files, run, "--resume", str(run), "--epochs", "3") == 0  # now saved with this numpy and BLAS
    assert "warning" not in capsys.readouterr().err


def test_a_resumed_run_keeps_its_backend(files, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert _train(files, run, "--epochs", "1") == 0  # numpy (conftest.py)
    monkeypatch.setenv("RNNALG_BACKEND", "fast")
    capsys.readouterr()
    assert _train(files, run, "--resume", str(run), "--epochs", "2") == 0
    assert _json(run / "result.json")["backend"] == "numpy"
    assert "continues on the numpy backend it was trained on (RNNALG_BACKEND=fast is for new runs)" in \
        capsys.readouterr().err


def test_a_run_trained_on_fast_continues_on_numpy_where_numba_is_missing(files, tmp_path, capsys, monkeypatch):
    from rnnalg import fast

    run = tmp_path / "run"
    assert _train(files, run, "--epochs", "1") == 0
    meta = _json(run / "last.json")
    (run / "last.json").write_text(json.dumps({**meta, "backend": "fast"}))
    monkeypatch.setattr(fast, "unavailable_reason", lambda: "numba is not installed")
    capsys.readouterr()
    assert _train(files, run, "--resume", str(run), "--epochs", "2") == 0
    assert _json(run / "result.json")["backend"] == "numpy"
    assert "trained on the fast backend, which is not available here (numba is not installed)" in \
        capsys.readouterr().err


def test_a_checkpoint_with_a_bad_backend_is_refused(files, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(files, run, "--epochs", "1") == 0
    meta = _json(run / "last.json")
    (run / "last.json").write_text(json.dumps({**meta, "backend": "gpu"}))
    capsys.readouterr()
    assert _train(files, run, "--resume", str(run), "--epochs", "2") != 0
    assert "checkpoint field backend is \"gpu\"; it must be numpy, fast or null" in capsys.readouterr().err


def test_the_rerun_command_of_a_results_line():
    from rnnalg.sweep.rerun import rerun_command

    line = {"status": "ok", "epochs": 43, "threads": 1, "backend": "fast", "trial": {"id": "t", "data_dir": None},
            "command": "rnnalg train examples/dts.rnn --data jsb --set H=250 --epochs 200 --weight-noise 0.02 "
                       "--time-limit 600 --seed 1234"}
    assert rerun_command(line) == ("RNNALG_BACKEND=fast rnnalg train examples/dts.rnn --data jsb --set H=250 "
                                   "--weight-noise 0.02 --seed 1234 --epochs 43 --threads 1")
    with pytest.raises(Exception, match="t: no finished epoch to rerun"):
        rerun_command({**line, "epochs": 0})
