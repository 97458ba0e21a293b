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


# figures README.md gives that RESULTS.md no longer shows, and where they come from
EARLIER = {"3.322 ± 0.021": "Nottingham RNN before its noise search: music_long.toml's configuration, seeds 1-3 "
                            "(nottingham_seeds.jsonl, nottingham_seed3.jsonl)"}


def test_every_mean_and_sd_the_readme_gives_is_results_mds():
    """Anywhere in README.md (the prose, the search's table), a figure `mean ± sd` is RESULTS.md's,
    or an earlier one EARLIER names; so is every `2 SE` it quotes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = (ROOT / "experiments" / "RESULTS.md").read_text(encoding="utf-8")
    figures = set(re.findall(r"\d+\.\d+ ± \d+\.\d+", " ".join(readme.split())))
    assert len(figures) >= 20
    assert sorted(f for f in figures - set(EARLIER) if f not in results) == []
    assert set(EARLIER) <= figures  # an entry the README no longer needs is dropped
    standard_errors = set(re.findall(r"2 SE =? ?(\d\.\d+)", readme))
    assert len(standard_errors) >= 4
    assert sorted(se for se in standard_errors if f"2 SE = {se}" not in results) == []
