"""The README's results excerpt follows experiments/RESULTS.md (issue 16: "the README excerpt
follows it"): every figure the excerpt shows is the one in RESULTS.md's row for that cell."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "An excerpt of [`experiments/RESULTS.md`](experiments/RESULTS.md)"


def excerpt_rows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme[readme.index(START):].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip().replace("\\*", "*") for cell in line.strip("|").split("|")])
    header, rows = table[0], table[2:]
    return header, rows


def results_row(results: str, dataset: str, model: str) -> str:
    found = [line for line in results.splitlines() if line.startswith(f"| {dataset} | {model} |")]
    assert found, f"RESULTS.md has no row for {dataset}, {model}"
    return found[0]


def test_every_figure_of_the_readme_excerpt_is_in_results_md():
    results = (ROOT / "experiments" / "RESULTS.md").read_text(encoding="utf-8")
    header, rows = excerpt_rows()
    checked = 0
    for row in rows:
        dataset = re.sub(r",.*", "", row[0])
        for column, value in zip(header[1:], row[1:]):
            if not value:
                continue
            if column.startswith("paper "):  # e.g. "paper DOT(S)": the paper column of that row
                assert f"| {value} |" in results_row(results, dataset, column[len("paper "):])
            else:
                figure, _, n = value.partition(" (n = ")
                row_text = results_row(results, dataset, column)
                assert row_text.startswith(f"| {dataset} | {column} | {figure} | {n.rstrip(')') or '1'} |"), \
                    (dataset, column, value, row_text)
            checked += 1
    assert checked >= 20
