"""Files that would run code when unpickled are refused with a message naming the file and --trust-pickle, whatever
the installed torch says about them (its wording changed between versions), and nothing in them runs; damaged files
are reported as damaged, and torch's advice to turn weights_only off is never repeated."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from realtime.errors import InputError
from realtime.models import GeneratorConfig, SwapGenerator
from realtime.models.checkpoint import load_state
from tests.cli import call_main
from tests.conftest import SwappedClip


class Planting:
    """Unpickling this creates a file: proof that code from the pickle ran."""

    def __init__(self, proof: Path) -> None:
        self.proof = proof

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mknod, (str(self.proof),))


# How torch's weights_only unpickler has worded its refusal of the same file across versions.
REFUSALS = {
    "2.4": "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, "
    "but it can result in arbitrary code execution. Do it only if you got the file from a trusted source.\n "
    "Please file an issue with the following so that we can make `weights_only=True` compatible with your use "
    "case: WeightsUnpickler error: Unsupported global: GLOBAL posix.mknod was not an allowed global by default.",
    "2.6": "Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
    "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely "
    "succeed, but it can result in arbitrary code execution.\nWeightsUnpickler error: Unsupported global: GLOBAL "
    "posix.mknod was not an allowed global by default. Please use `torch.serialization.add_safe_globals([mknod])`",
    "2.9": "Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
    "`torch.load` from `False` to `True`.\n\nTrying to load unsupported GLOBAL posix.mknod whose module posix is "
    "blocked.\n\nCheck the documentation of torch.load to learn more about types accepted by default with "
    "weights_only https://pytorch.org/docs/stable/generated/torch.load.html.",
}


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    proof = tmp_path / "code-ran"
    zipped, plain = tmp_path / "model.pt", tmp_path / "model.pkl"
    torch.save({"weight": torch.zeros(2), "payload": Planting(proof)}, zipped)
    plain.write_bytes(pickle.dumps(Planting(proof)))
    truncated = tmp_path / "truncated.pt"
    torch.save(SwapGenerator(GeneratorConfig(width=8, id_blocks=1)).state_dict(), tmp_path / "good.pt")
    truncated.write_bytes((tmp_path / "good.pt").read_bytes()[:3000])
    return {"proof": proof, "zipped": zipped, "plain": plain, "truncated": truncated}


def refused(path: Path) -> str:
    return rf"{path} is a pickled Python object \(it imports posix\.mknod\).*--trust-pickle"


def test_hostile_pickles_are_refused_and_never_run(hostile: dict[str, Path]) -> None:
    for kind in ("zipped", "plain"):
        with pytest.raises(InputError, match=refused(hostile[kind])) as info:
            load_state(hostile[kind])
        assert "weights_only" not in str(info.value)
    assert not hostile["proof"].exists()
    with pytest.raises(InputError, match="not a PyTorch file or truncated") as info:
        load_state(hostile["truncated"])
    assert "weights_only" not in str(info.value)


@pytest.mark.parametrize("version", sorted(REFUSALS))
def test_the_refusal_does_not_depend_on_torch_wording(
    hostile: dict[str, Path], version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing_load(*_args: object, **_kwargs: object) -> object:
        raise pickle.UnpicklingError(REFUSALS[version])

    monkeypatch.setattr(torch, "load", refusing_load)
    with pytest.raises(InputError, match=refused(hostile["zipped"])):
        load_state(hostile["zipped"])
    with pytest.raises(InputError, match="not a PyTorch file or truncated") as info:
        load_state(hostile["truncated"])  # the same words about a damaged file: reported as damaged
    assert "weights_only" not in str(info.value) and "False" not in str(info.value)
    assert not hostile["proof"].exists()


def test_the_cli_refuses_in_one_line(hostile: dict[str, Path], swapped_clip: SwappedClip, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = call_main("realtime.swap", swapped_clip.clip, out, "--source", swapped_clip.source, "--model",
                       hostile["zipped"], "--identity-model", hostile["zipped"], "--quiet")  # fmt: skip
    assert result.returncode == 1
    (line,) = result.error_lines()
    assert f"{hostile['zipped']} is a pickled Python object" in line and "--trust-pickle" in line
    assert not out.exists() and not hostile["proof"].exists()
