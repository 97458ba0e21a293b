"""`rnnalg eval` and `rnnalg sample` compute on the BLAS thread count the run was trained with
(its checkpoint records it) unless `--threads` is given, and say which count they used (one rule,
rnnalg/commands/threads.py)."""
import pytest

from rnnalg.cli import main
from rnnalg.commands import eval_, sample, threads
from rnnalg.train import numerics

from _shared import tiny_music_files


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval_threads")
    spec, data = tiny_music_files(folder, 4, {"train": 2, "valid": 1, "test": 1})
    assert main(["train", spec, "--data", data, "--epochs", "1", "--threads", "1", "--quiet",
                 "--out", str(folder / "run")]) == 0
    return spec, folder / "run"


def test_eval_uses_the_recorded_thread_count_unless_told_otherwise(run, monkeypatch, capsys):
    spec, run_dir = run
    seen = []
    evaluate = eval_.evaluate_split

    def watched(*args):
        seen.append(numerics.blas_threads())
        return evaluate(*args)

    monkeypatch.setattr(eval_, "evaluate_split", watched)
    capsys.readouterr()
    with numerics.blas_threads_set(2):
        if numerics.blas_threads() != 2:
            pytest.skip("this BLAS cannot run on 2 threads here")
        assert main(["eval", spec, "--checkpoint", str(run_dir)]) == 0  # trained on 1 thread, called on 2
        assert "BLAS threads 1 (as trained)" in capsys.readouterr().out
    with numerics.blas_threads_set(1):
        assert main(["eval", spec, "--checkpoint", str(run_dir), "--threads", "2"]) == 0
        assert "BLAS threads 2 (--threads)" in capsys.readouterr().out
    assert seen == [1, 2]


def test_a_checkpoint_without_a_thread_count_keeps_the_blas_default():
    assert threads.trained_threads(None, None) == (None, "(the BLAS's own: the checkpoint records none)")
    assert threads.trained_threads(None, 3) == (3, "(as trained)")
    assert threads.trained_threads(2, 3) == (2, "(--threads)")


def test_sample_uses_the_recorded_thread_count_unless_told_otherwise(run, tmp_path, monkeypatch, capsys):
    """It sampled on whatever count the BLAS had (a drawn note near its threshold can differ)."""
    spec, run_dir = run
    seen = []
    generate = sample.generate

    def watched(*args, **kwargs):
        seen.append(numerics.blas_threads())
        return generate(*args, **kwargs)

    monkeypatch.setattr(sample, "generate", watched)
    capsys.readouterr()
    out = tmp_path / "s.mid"
    with numerics.blas_threads_set(2):
        if numerics.blas_threads() != 2:
            pytest.skip("this BLAS cannot run on 2 threads here")
        assert main(["sample", spec, "--checkpoint", str(run_dir), "--steps", "4", "--out", str(out)]) == 0
        assert "BLAS threads 1 (as trained)" in capsys.readouterr().out
    with numerics.blas_threads_set(1):
        assert main(["sample", spec, "--checkpoint", str(run_dir), "--steps", "4", "--out", str(out),
                     "--threads", "2"]) == 0
        assert "BLAS threads 2 (--threads)" in capsys.readouterr().out
    assert seen == [1, 2]
