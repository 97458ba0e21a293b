"""The installed package must contain every subpackage and the grammar (setup.cfg lists them)."""
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "rnnalg").rglob("__init__.py")}
    assert found - listed == set(), "add these packages to setup.cfg [options] packages"
    assert "rnnalg.grammar" in listed and (ROOT / "grammar" / "rnnalg.lark").exists()
