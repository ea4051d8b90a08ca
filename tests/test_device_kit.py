"""bench/device_kit.py: the kit that carries what the lent GPU machine lacks, in parts under one call's limit,
reassembled and installed there; here on small stand-ins (a real wheel pip installs, a compressed model)."""

from __future__ import annotations

import lzma
import random
import zipfile
from pathlib import Path

import pytest

from bench import device_check, device_kit


def tiny_wheel(folder: Path) -> Path:
    """A valid pure-Python wheel of a package ``kit_probe`` whose module says what it is."""
    path = folder / "kit_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("kit_probe/__init__.py", "WHAT = 'installed from the kit'\n")
        wheel.writestr("kit_probe-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: kit_probe\nVersion: 1.0\n")
        wheel.writestr("kit_probe-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                       "Tag: py3-none-any\n")  # fmt: skip
        wheel.writestr("kit_probe-1.0.dist-info/RECORD", "")
    return path


def test_parts_fit_the_budget_and_reassemble_into_installed_files(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    model = random.Random(0).randbytes(10_000)  # incompressible: split over parts
    (source / "probe.dat.xz").write_bytes(lzma.compress(model))
    (source / "__init__.py").write_text("MODELS = 'here'\n")
    targets = [tiny_wheel(source), source / "__init__.py", source / "probe.dat.xz"]
    kit = tmp_path / "kit"
    budget = 4000
    manifest = device_kit.pack(targets, kit, budget)
    parts = sorted(kit.glob("part*"))
    assert len(parts) == manifest["parts"] >= 2
    for part in parts:
        assert sum(p.stat().st_size for p in part.iterdir() if p.name != "kit.json") <= budget

    home = tmp_path / "device"
    with pytest.raises(RuntimeError, match=r"part\(s\) \[1\] were not received"):
        device_kit.receive(parts[1], home)  # the machine went cold between calls
    installed = [name for part in parts for name in device_kit.receive(part, home)]
    assert sorted(installed) == sorted(t.name for t in targets)
    site = home / "site"
    assert (site / "kit_probe" / "__init__.py").read_text() == "WHAT = 'installed from the kit'\n"
    package = site / device_kit.MODELS_PACKAGE
    assert (package / "models" / "probe.dat").read_bytes() == model
    assert (package / "__init__.py").read_text() == "MODELS = 'here'\n"
    assert device_kit.receive(parts[-1], home) == []  # a part received twice installs nothing twice

    piece = next(p for p in parts[0].iterdir() if p.name != "kit.json")
    piece.write_bytes(b"x" + piece.read_bytes()[1:])
    with pytest.raises(RuntimeError, match="corrupt"):
        device_kit.receive(parts[0], tmp_path / "other")


def test_the_device_calls_run_every_step_once_each_with_its_part() -> None:
    calls = device_kit.device_calls(3)
    assert [c["carry"] for c in calls] == [[".device-kit/part1"], [".device-kit/part2"], [".device-kit/part3"]]
    commands = [str(c["command"]) for c in calls]
    assert all(c.startswith(f"python3 bench/device_kit.py receive {k} && ") or k == 2
               for k, c in enumerate(commands, 1))  # fmt: skip
    listed = [c.split("--steps ")[1].split() for c in commands if "--steps" in c]
    names = [s.name for s in device_check.steps(Path("/tmp/x"))]
    assert sorted(listed[0] + listed[1]) == sorted(names) and not set(listed[0]) & set(listed[1])
    assert "pipeline" in listed[1] and "ops-tests" in listed[0]  # the face models arrive with the last part
    assert all(len(c["command"]) <= 2000 and int(c["timeout_s"]) <= 600 for c in calls)  # the device tool's limits


def test_receive_says_what_is_missing_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert device_kit.main(["receive", "99"]) == 2
    assert "carry it (.device-kit/part99)" in capsys.readouterr().err
