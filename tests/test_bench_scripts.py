"""Every benchmark script imports against the current package (bench/pipeline.py once imported a helper that had
been removed from realtime.swap, and nothing noticed) and builds its --help."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(
    p.stem for p in (Path(__file__).resolve().parent.parent / "bench").glob("*.py") if p.stem != "__init__"
)


@pytest.mark.parametrize("name", SCRIPTS)
def test_bench_script_imports_and_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"bench.{name}")
    if name in ("common", "attacks"):  # helpers, not scripts
        return
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out
