"""tools/cpu_times.py: the pytest plugin's lines (a test's CPU seconds, its children's, its numba
compiles) and the tables it prints from them."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("cpu_times", ROOT / "tools" / "cpu_times.py")
cpu_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cpu_times)

BUSY = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass\n"
TESTS = f'''import subprocess, sys
from numba import njit


def test_busy():
{"".join("    " + line + chr(10) for line in BUSY.splitlines())}

def test_child():
    subprocess.run([sys.executable, "-c", {BUSY!r}], check=True)


def test_compiles():
    @njit
    def add(a, b):
        return a + b
    assert add(1, 2) == 3
'''


def test_the_plugin_records_cpu_children_and_compiles_and_the_script_tabulates_them(tmp_path, capsys):
    (tmp_path / "test_sample.py").write_text(TESTS)
    out = tmp_path / "times.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"), CPU_TIMES_OUT=str(out))
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "cpu_times", "-p", "no:cacheprovider", "-q",
                           "test_sample.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    records = {r["id"].split("::")[1]: r for r in map(json.loads, out.read_text().splitlines())}
    assert list(records) == ["test_busy", "test_child", "test_compiles"]
    assert records["test_busy"]["cpu"] >= 0.29 and records["test_busy"]["children"] < 0.1
    assert records["test_child"]["children"] >= 0.29
    assert [c[:2] for c in records["test_compiles"]["compiles"]] == [
        ["test_sample.test_compiles.<locals>.add", "(int64, int64)"]]
    assert records["test_busy"]["compiles"] == records["test_child"]["compiles"] == []
    assert cpu_times.main([str(out)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("3 tests: ") and " 1 compiles (" in table.splitlines()[0]
    assert "| test_sample.py | 3 | " in table and table.rstrip().endswith("test_compiles.<locals>.add 1")


def test_a_line_that_is_not_the_plugins_is_an_error_naming_it(tmp_path, capsys):
    bad = tmp_path / "times.jsonl"
    bad.write_text('{"id": "t::a", "cpu": 1, "children": 0, "wall": 1, "compiles": []}\nnot json\n')
    assert cpu_times.main([str(bad)]) == 2
    assert f"error: {bad}:2: not a line pytest -p cpu_times writes" in capsys.readouterr().err
    assert cpu_times.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: No such file or directory" in capsys.readouterr().err
