"""Every error of a sweep file that names a key names its line too (`s.toml: line 13: key: error: …`),
found by keyline.py in the file as written: comments, multi-line values and strings are not keys."""
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.sweep.keyline import holds, key_line

RNN = Path(__file__).resolve().parents[1] / "examples" / "rnn.rnn"


def _error(tmp_path, monkeypatch, capsys, text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(text)
    assert main(["sweep", "s.toml", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_key_of_a_table_after_a_multi_line_array_and_comments(tmp_path, monkeypatch, capsys):
    text = f"""\
# a sweep
[sweep]
datasets = [
    "jsb",        # [train]
    # lr = 1
]

[model.a]                 # its train table also sets lr
spec = "{RNN}"
train = {{ lr = 0.01 }}

[train]
epochs = 2
lr = "fast"
"""
    err = _error(tmp_path, monkeypatch, capsys, text)
    assert err.startswith("s.toml: line 14: train.lr: error: argument --lr: must be a finite number > 0"), err


@pytest.mark.parametrize("asha, line", [
    ('[sweep.asha]\ngrace_period = 1\n\nper = "seed"\n', 6),   # under its own header
    ('asha.per = "seed"\n', 3),                                  # a dotted key under [sweep]
    ('asha = { grace_period = 1, per = "seed" }\n', 3),         # an inline table: its line
])
def test_a_nested_key(tmp_path, monkeypatch, capsys, asha, line):
    text = f'[sweep]\ndatasets = ["jsb"]\n{asha}[model.a]\nspec = "{RNN}"\n'
    err = _error(tmp_path, monkeypatch, capsys, text)
    assert err.startswith(f"s.toml: line {line}: sweep.asha.per: error: must be one of 'model', 'dataset', "
                          f"not 'seed'"), err


def test_a_key_of_an_inline_table_after_a_multi_line_string(tmp_path, monkeypatch, capsys):
    text = f'''\
[sweep]
datasets = ["jsb"]

[model.a]
label = """RNN,
[model.b]
set = {{ H = 0 }}"""
spec = "{RNN}"
set = {{ H = 0 }}
'''
    err = _error(tmp_path, monkeypatch, capsys, text)
    assert err.startswith("s.toml: line 9: model.a.set.H: error: expected integers >= 1, got 0"), err


def test_a_key_in_a_model_table_and_a_size_the_spec_lacks(tmp_path, monkeypatch, capsys):
    """model.b.spec is found by load_sweep, model.a.set.Q only by load_params: both get their line."""
    text = f"""\
[sweep]
datasets = ["jsb"]

[model.a]
spec = "{RNN}"

[model.a.set]
H = 8

[model.b]
label = "B"
spec = "missing.rnn"
"""
    err = _error(tmp_path, monkeypatch, capsys, text)
    assert err.startswith("s.toml: line 12: model.b.spec: error: no such file: missing.rnn"), err
    err = _error(tmp_path, monkeypatch, capsys, text.replace("missing.rnn", str(RNN)).replace("H = 8", "H = 8\nQ = 3"))
    assert err.startswith("s.toml: line 9: model.a.set.Q: error: unknown size 'Q': "), err


def test_a_key_the_file_does_not_give_keeps_the_message_without_a_line(tmp_path, monkeypatch, capsys):
    """The nearest table ([model.a]) is not the missing key's line: no line is better than a wrong one."""
    err = _error(tmp_path, monkeypatch, capsys, '[sweep]\ndatasets = ["jsb"]\n[model.a]\nlabel = "A"\n')
    assert err.startswith("s.toml: model.a.spec: error: expected the path of a .rnn file"), err
    err = _error(tmp_path, monkeypatch, capsys, '[sweep]\ndatasets = ["jsb"]\n')
    assert err.startswith("s.toml: model: error: no models"), err


def test_key_lines_skip_values_and_strings():
    text = ('[sweep]\ndatasets = [\n  ["a"],\n  "b = 1",\n]\nb = 2\nlabel = """\n[x]\ny = 3\n"""\n'
            "path = 'C:\\dir\\' # [z]\n[x]\ny = 4\nq = \"\\\"\" # y = 5\n")
    assert key_line(text, "sweep.b") == 6 and key_line(text, "x.y") == 13 and key_line(text, "x") == 12
    assert key_line(text, "sweep.label") == 7 and key_line(text, "x.q") == 14
    assert key_line(text, "a") is None and key_line(text, "sweep.datasets.a") == 2  # its holder's line


def test_holds_follows_dotted_keys_and_dotted_names():
    data = {"sweep": {"asha": {"per": "x"}}, "data": {"a.b": {"lr": 1}}}
    assert holds(data, "sweep.asha.per") and holds(data, "data.a.b.lr") and holds(data, "data.a.b")
    assert not holds(data, "sweep.asha.group_by") and not holds(data, "sweep.asha.per.x")
    assert not holds(data, "model")
