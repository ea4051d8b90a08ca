"""python -m training.pairs: test pairs of two different people, reproducible, balanced, read back by evaluate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from realtime.errors import InputError
from tests.cli import call_main
from training.evaluate import read_pairs
from training.pairs import choose_pairs


def test_pairs_join_different_people_evenly(photos: Path) -> None:
    pairs = choose_pairs(photos, 20, seed=3)
    assert len(pairs) == 20
    assert all(s.parent != t.parent for s, t in pairs)
    appearances = Counter(p.parent.name for pair in pairs for p in pair)
    assert len(appearances) == 7 and max(appearances.values()) - min(appearances.values()) <= 2
    assert choose_pairs(photos, 20, seed=3) == pairs and choose_pairs(photos, 20, seed=4) != pairs
    assert len(set(pairs)) == 20  # 21 photos of 7 people: no pair needs repeating


def test_the_cli_writes_what_evaluate_reads(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "test_pairs"
    result = call_main("training.pairs", photos, out, "--pairs", "6")
    assert result.returncode == 0, result.stderr
    pairs = read_pairs(out)
    assert len(pairs) == 6 and all(s.is_file() and t.is_file() for s, t in pairs)
    assert (pairs[0][0].name, pairs[0][1].name) == ("pair_00_source.jpg", "pair_00_target.jpg")
    lonely = tmp_path / "lonely"
    (lonely / "a").mkdir(parents=True)
    (lonely / "a" / "x.jpg").write_bytes((photos / "person_0" / "photo_0.jpg").read_bytes())
    with pytest.raises(InputError, match="at least two identity folders"):
        choose_pairs(lonely, 3)
    result = call_main("training.pairs", photos, tmp_path / "no" / "where", "--pairs", "2")
    assert result.returncode == 1 and "output folder does not exist" in result.error_lines()[-1]
