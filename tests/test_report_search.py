"""`rnnalg report` on an architecture search's results (issue 19 §3): its own section (candidates
ranked by best validation figure, ASHA stops said), the paper's variants found by `equivalent`,
the figure parameters × validation figure, and located errors for missing or foreign candidates."""
import json
from pathlib import Path

import pytest

from rnnalg.checking import check
from rnnalg.cli import main
from rnnalg.front.parser import parse
from rnnalg.sweep.search_results import Search, read_candidates, split_searches
from rnnalg.sweep.variants import mark_variants, variant_specs

HEAD = "let H = 200\ninput x : binary[88]\noutput y : binary[88]\nstate h : H\n"
SPECS = {  # name -> (seed, moves, spec text)
    "c001": ("DT(S)", [], "let H = 200\ninput a : binary[88]\noutput y : binary[88]\nstate s : H\n"
                          "u : H = tanh(a ⊕ s)\ns' = tanh(u ⊕ s)\ny = ▷ s'\n"),  # DT(S), renamed
    "c002": ("DT(S)", ["remove_shortcut(h')"], HEAD + "h' = MLP[tanh H, tanh](h ⊕ x)\ny = ▷ h'\n"),  # DT, commuted
    "c003": ("DT(S)", ["swap_activation(h', tanh->sigmoid)"],
             HEAD + "z : H = tanh(x ⊕ h)\nh' = sigmoid(z ⊕ h)\ny = ▷ h'\n"),  # no paper variant
    "c004": ("DT(S)", ["stack(h')", "swap_activation(z, tanh->relu)"],
             "let H = 200\ninput x : binary[88]\noutput y : binary[88]\nstate h1 : H\nstate h2 : H\n"
             "h1' = tanh(x ⊕ h1)\nh2' = tanh(h1' ⊕ h2)\ny = ▷ h2'\n"),  # sRNN-2: DT(S)'s count, another model
}
SIZE = 30


def candidates(name="search_t", sizes=None):
    out = []
    for key, (seed, moves, text) in SPECS.items():
        size = (sizes or {}).get(key, SIZE)
        params = check(parse(text), {"H": size}).param_count
        out.append({"name": key, "seed": seed, "moves": moves, "size": size, "parameters": params,
                    "canonical": "0" * 16, "spec": text})
    return out


def line(c, valid, status="ok", epochs=20, stopped="early stop", search=None, sweep="sweeps/search_t/sweep.toml"):
    label = c["seed"] + "".join(f" + {m}" for m in c["moves"])
    out = {"trial": {"id": f"{c['name']}-jsb-s1234", "config_id": f"{c['name']}-jsb", "model": c["name"],
                     "label": label, "dataset": "jsb", "dataset_label": "jsb",
                     "flags": {"epochs": 60, "seed": 1234}, "sizes": {"H": c["size"]},
                     "spec": f"/nowhere/{c['name']}.rnn", "spec_shown": f"sweeps/search_t/candidates/{c['name']}.rnn"},
           "status": status, "error": "worker died\nat step 3" if status == "failed" else None, "metric": "nll",
           "test": 8.5 if status == "ok" else None, "best_valid": valid, "best_epoch": 3 if valid else None,
           "epochs": epochs, "stopped": stopped if status == "ok" else None, "seconds": 10.0,
           "params": c["parameters"], "curve": [[1, 9.0]], "command": f"rnnalg train {c['name']}.rnn",
           "commit": "abc123", "sweep": sweep, "data_label": "jsb"}
    if search:
        out["search"] = {"file": search, "size_name": "H", **c}
    return out


def search_lines(cands, **extra):
    """c002 best, c001 next, c003 stopped by ASHA after 3 epochs, c004 failed."""
    return [line(cands[0], 8.45, **extra), line(cands[1], 8.40, stopped="time limit", **extra),
            line(cands[2], 9.10, status="pruned", epochs=3, **extra), line(cands[3], None, status="failed", **extra)]


def plain_line():
    c = {"name": "dts", "seed": "DT(S)", "moves": [], "size": 200, "parameters": 1234}
    x = line(c, 8.6, sweep="experiments/jsb_seeds.toml")
    x["trial"].update(model="dts", spec="/examples/dts.rnn", spec_shown="../examples/dts.rnn")
    return x


def write(path: Path, objs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in objs), encoding="utf-8")
    return path


def layout(tmp_path, cands=None, lines=None):
    """experiments/results/{search_t,plain}.jsonl and experiments/search_t/candidates.jsonl."""
    cands = cands or candidates()
    write(tmp_path / "experiments" / "search_t" / "candidates.jsonl", cands)
    results = write(tmp_path / "experiments" / "results" / "search_t.jsonl", lines or search_lines(cands))
    return results, write(tmp_path / "experiments" / "results" / "plain.jsonl", [plain_line()])


def report(tmp_path, *files, figures=False):
    out = tmp_path / "out"
    code = main(["report", *map(str, files), "--out", str(out), *([] if figures else ["--no-figures"])])
    return code, ((out / "RESULTS.md").read_text(encoding="utf-8") if (out / "RESULTS.md").exists() else None)


def section(text: str) -> str:
    start = text.index("## Architecture search: search_t")
    return text[start:text.index("\n## ", start + 1)]


def table_rows(text: str) -> list:
    return [row for row in section(text).splitlines() if row.startswith("| ") and not row.startswith("| rank")]


def test_search_lines_get_a_section_ranked_by_validation_not_cells_of_the_papers_tables(tmp_path):
    code, text = report(tmp_path, *layout(tmp_path))
    assert code == 0
    # the paper's JSB table holds the plain line's DT(S) only (one configuration), no candidate
    assert "| JSB Chorales | DT(S) | 8.500 | 1 | 8.278 R | +0.222 | 1,234 | 1 |" in text
    assert "c00" not in text[:text.index("## Architecture search")]
    rows = table_rows(text)
    params = candidates()[1]["parameters"]
    assert rows[0] == (f"| 1 | **c002** | DT(S) | remove_shortcut(h') | DT | 30 | {params:,} | 20 | 8.400 |  "
                       "| time limit |")
    assert rows[1].startswith("| 2 | **c001** | DT(S) | (the seed) | DT(S) | 30 |") and rows[1].endswith(
        "| 20 | 8.450 |  | early stop |")
    assert rows[2].startswith("| 3 | c003 | DT(S) | swap_activation(h', tanh->sigmoid) |  | 30 |")
    assert rows[2].endswith("| 3 | 9.100 | at epoch 3 |  |")  # ASHA stopped it: said in its own column
    assert rows[3].startswith("|  | **c004** | DT(S) | stack(h') → swap_activation(z, tanh->relu) | sRNN-2 |")
    assert rows[3].endswith("| failed |  |  |")
    assert "1 of 4 candidates were stopped early by ASHA" in text and "**not comparable**" in text
    assert "- 1 of 4 candidates ran until their time limit" in text  # c002
    assert "- c004-jsb-s1234 failed: worker died" in text
    assert "4 candidates from the seeds DT(S), each sized" in text and "4 with results" in text


def test_candidates_without_a_results_line_are_named_as_not_run(tmp_path):
    cands = candidates()
    code, text = report(tmp_path, *layout(tmp_path, cands, search_lines(cands)[:2]))
    assert code == 0 and "2 with results, 2 not run (c003, c004)" in text
    assert len(table_rows(text)) == 2


def test_the_paper_variants_are_found_by_equivalence_at_the_candidates_size(tmp_path):
    path = write(tmp_path / "candidates.jsonl", candidates(sizes={"c002": 17}))
    found = mark_variants(read_candidates(path), "H", variant_specs())
    # renamed DT(S); DT with ⊕'s operands commuted (at its own H = 17); sRNN-2, not DT(S) whose count it shares
    assert found == {"c001": "DT(S)", "c002": "DT", "c004": "sRNN-2"}
    assert check(parse(SPECS["c004"][2]), {"H": SIZE}).param_count == \
        check(parse(SPECS["c001"][2]), {"H": SIZE}).param_count
    assert mark_variants(read_candidates(path), "H", []) == {}  # no examples: nothing marked


def test_lines_that_carry_their_candidate_need_no_candidates_file(tmp_path):
    cands = candidates()
    results = write(tmp_path / "r" / "search_t.jsonl", search_lines(cands, search="experiments/search_t.toml"))
    code, text = report(tmp_path, results)
    assert code == 0
    assert section(text).startswith("## Architecture search: search_t\n\n`rnnalg search experiments/search_t.toml`: "
                                    "4 candidates")
    assert table_rows(text)[0].startswith("| 1 | **c002** | DT(S) | remove_shortcut(h') | DT |")


def test_a_candidate_line_without_its_candidates_is_a_located_error(tmp_path, capsys):
    cands = candidates()
    results = write(tmp_path / "experiments" / "results" / "search_t.jsonl", search_lines(cands))
    assert report(tmp_path, results) == (1, None)
    err = capsys.readouterr().err
    assert err.startswith(f"{results}: line 1: error: trial c001-jsb-s1234 is candidate c001 of search search_t, "
                          "but no candidates.jsonl describes it (looked at ")
    assert str(tmp_path / "experiments" / "search_t" / "candidates.jsonl") in err


def test_another_searchs_candidates_are_refused(tmp_path, capsys):
    cands = candidates()
    results, _ = layout(tmp_path, candidates(sizes={"c002": 31}), search_lines(cands))
    assert report(tmp_path, results) == (1, None)
    assert capsys.readouterr().err.startswith(
        f"{results}: line 2: error: {tmp_path / 'experiments' / 'search_t' / 'candidates.jsonl'} gives c002 "
        f"{candidates(sizes={'c002': 31})[1]['parameters']:,} parameters, the line {cands[1]['parameters']}: "
        "another search's candidates")


def test_a_broken_candidates_file_is_a_located_error(tmp_path, capsys):
    results, _ = layout(tmp_path)
    path = tmp_path / "experiments" / "search_t" / "candidates.jsonl"
    path.write_text(path.read_text() + '{"name": "c005", "seed": "DT(S)"}\n')
    assert report(tmp_path, results) == (1, None)
    assert capsys.readouterr().err.startswith(
        f"{path}: line 5: error: not a search candidate (no moves, size, parameters, spec)")


@pytest.mark.parametrize("key, value, message", [
    ("size", "x", "'size' is \"x\": expected a positive integer"),  # an unlocated usage error (exit 2) before
    ("seed", None, "'seed' is None: expected a string"),  # shown as "None" in the table before
    ("moves", ["stack(h')", 1], "'moves' is [\"stack(h')\", 1]: expected a list of strings"),
    ("parameters", True, "'parameters' is True: expected an integer"),  # 1 parameter before
])
def test_a_candidate_field_of_the_wrong_type_is_a_located_error(tmp_path, capsys, key, value, message):
    cands = candidates()
    cands[1][key] = value
    results, _ = layout(tmp_path, cands, search_lines(candidates()))
    assert report(tmp_path, results) == (1, None)
    path = tmp_path / "experiments" / "search_t" / "candidates.jsonl"
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: line 2: error: not a search candidate: {message}"), err


def test_the_figure_draws_every_candidate_and_labels_seeds_variants_and_the_best(tmp_path):
    pytest.importorskip("matplotlib")
    from rnnalg.sweep.search_report import paper_marks, search_figure

    cands = candidates()
    plain, (search,) = split_searches([(tmp_path / "r.jsonl", i + 1, x) for i, x in enumerate(search_lines(
        cands, search="s.toml"))])
    assert plain == [] and isinstance(search, Search)
    marks, compared = paper_marks(search)
    assert compared == ["RNN", "DT", "DT(S)", "DOT", "DOT(S)", "sRNN-2", "DO"]
    (ax,) = search_figure(search, {"jsb": "JSB Chorales"}, marks).axes
    assert sorted(t.get_text() for t in ax.texts) == ["DT (c002)", "DT(S) (c001)"]  # c002 is also the best
    points = sorted((round(x), round(y, 2)) for artist in ax.lines for x, y in zip(artist.get_xdata(),
                                                                                     artist.get_ydata()))
    assert {(c["parameters"], v) for c, v in zip(cands, (8.45, 8.40, 9.10))} <= set(points)  # the failed one: none
    assert ax.get_xlabel() == "parameters" and "best valid NLL per frame" in ax.get_ylabel()


def test_the_report_writes_the_figure_and_links_it(tmp_path):
    """Also when the search's lines are the only ones (no other figure made figures/)."""
    pytest.importorskip("matplotlib")
    code, text = report(tmp_path, layout(tmp_path)[0], figures=True)
    picture = tmp_path / "out" / "figures" / "search_t.png"
    assert code == 0 and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![search_t](figures/search_t.png)" in section(text)


def test_reruns_in_other_flags_leave_the_ranking_for_their_own_table(tmp_path):
    """The ranking is of the search's own trials; a candidate re-run after it in other flags (more
    epochs, fresh seeds) is not ranked among them but shown in the re-run table, its seeds one row."""
    cands = candidates()
    lines = search_lines(cands)
    for seed, test in ((5, 8.30), (6, 8.50)):  # a rerun of c001: two seeds, longer
        rerun = line(cands[0], 8.1)
        rerun["trial"].update(id=f"c001-jsb-ep200-s{seed}", flags={"epochs": 200, "seed": seed})
        rerun["command"] += f" --epochs 200 --seed {seed}"
        rerun["test"] = test
        lines.append(rerun)
    code, text = report(tmp_path, *layout(tmp_path, cands, lines))
    assert code == 0
    rows = table_rows(text)
    assert rows[0].startswith("| 1 | **c002** |") and rows[1].startswith("| 2 | **c001** |")
    assert "| 20 | 8.450 |" in rows[1]  # the search's own trial of c001, not the rerun's 8.1
    assert [r for r in rows if r.startswith("| c001 |")] == [
        "| c001 | epochs 200 | 8.400 ± 0.141 (n = 2) | DT(S) | not run in this configuration | | |"]
    assert "more than one configuration" not in text


def test_lines_that_carry_their_candidate_still_read_the_candidates_file_for_those_not_run(tmp_path):
    cands = candidates()
    lines = search_lines(cands, search="experiments/search_t.toml")[:3]
    code, text = report(tmp_path, *layout(tmp_path, cands, lines))
    assert code == 0 and "4 candidates from the seeds DT(S)" in text and "3 with results, 1 not run (c004)" in text


def test_reruns_stand_beside_the_seed_model_in_the_same_configuration_and_seeds(tmp_path):
    """Issue 19 §3: the best candidates re-run with fresh seeds beside DOT(S) under one budget."""
    cands = candidates()
    lines = search_lines(cands)
    for seed, test in ((5, 8.30), (6, 8.32)):  # c003 re-run with two fresh seeds
        rerun = line(cands[2], 8.2)
        rerun["trial"].update(id=f"c003-jsb-s{seed}", flags={"epochs": 200, "seed": seed, "time_limit": 600})
        rerun["test"] = test
        lines.append(rerun)
    plain = []
    for seed, limit, test, extra in ((5, 600, 8.60, {}), (6, 600, 8.64, {}),
                                     (5, 75, 9.90, {}),  # the same seed cut short by the clock: superseded
                                     (7, 600, 7.00, {}),  # a seed the candidate did not run
                                     (6, 600, 7.00, {"weight_noise": 0.1})):  # another configuration
        x = plain_line()
        x["trial"]["flags"] = {"epochs": 200, "seed": seed, "time_limit": limit, **extra}
        x["trial"]["id"] = f"dts-jsb-{len(plain)}-tl{limit}-s{seed}"
        x["test"] = test
        plain.append(x)
    results, _ = layout(tmp_path, cands, lines)
    code, text = report(tmp_path, results, write(tmp_path / "experiments" / "results" / "plain.jsonl", plain))
    assert code == 0
    [row] = [r for r in section(text).splitlines() if r.startswith("| c003 |")]
    assert row == ("| c003 | epochs 200 | 8.310 ± 0.014 (n = 2) | DT(S) | 8.620 ± 0.028 (n = 2) | +0.310 "
                   "| **yes** (2 SE = 0.045) |")


def test_the_paper_variants_are_found_where_rnnalg_is_installed_without_its_source(monkeypatch):
    """A pip install has no examples/ beside the package: the variants ship as rnnalg.examples."""
    import rnnalg.sweep.variants as variants

    monkeypatch.setattr(variants, "SOURCE_EXAMPLES", Path("/nonexistent/examples"))
    found = variants.variant_specs()
    assert [name for name, _ in found] == [name for name, _ in variants.PAPER_VARIANTS]


def test_an_interim_line_in_a_search_reads_as_in_the_papers_tables(tmp_path):
    """One wording for an unfinished trial (`--standings`): "interrupted after N epochs, resumable"."""
    cands = candidates()
    lines = search_lines(cands)
    lines[1].update(stopped="interrupted", epochs=7)
    code, text = report(tmp_path, *layout(tmp_path, cands, lines))
    assert code == 0
    assert table_rows(text)[0].endswith("| 7 | 8.400 |  | interrupted after 7 epochs, resumable |")
