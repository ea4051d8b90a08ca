"""Models by name and auto selection: realtime.swap with a model store holding test-built stand-ins under the
manifest's file names (an inswapper-shaped ONNX and a small ArcFace exported to ONNX)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.io.images import read_image, write_image
from realtime.models.arcface import IResNet
from realtime.samples import face_image, write_source_face
from tests.cli import CliResult, call_main
from tests.models.test_arcface import export, randomised
from tests.test_swap_neural import write_inswapper_like


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("selection")
    photo, source = root / "photo.jpg", write_source_face(root / "face.jpg")
    write_image(photo, face_image("astronaut"))
    home = root / "home"
    (home / "models" / "buffalo_l").mkdir(parents=True)
    write_inswapper_like(home / "models" / "inswapper_128.onnx")
    arcface = randomised(IResNet((2, 2, 2, 2), width=16), torch.Generator().manual_seed(0))  # an r18, 16 wide
    export(arcface, home / "models" / "buffalo_l" / "w600k_r50.onnx")
    return {"root": root, "photo": photo, "source": source, "home": home, "empty": root / "empty"}


def swap(scene: dict[str, Path], home: Path, monkeypatch: pytest.MonkeyPatch, *extra: object) -> CliResult:
    monkeypatch.setenv("REALTIME_HOME", str(home))
    out = scene["root"] / "out.png"
    out.unlink(missing_ok=True)
    return call_main("realtime.swap", scene["photo"], out, "--source", scene["source"], *extra)


def test_without_models_auto_says_why_it_uses_the_classic_swapper(
    scene: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = swap(scene, scene["empty"], monkeypatch)
    assert result.returncode == 0, result.stderr
    assert "swapper: auto: no neural swapper installed" in result.stderr
    assert "swapper: classic" in result.stderr
    assert "(auto: no insightface pack in ~/.insightface/models or the model store)" in result.stderr


def test_auto_picks_an_installed_neural_swapper_and_its_identity_model(
    scene: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = swap(scene, scene["home"], monkeypatch)
    assert result.returncode == 0, result.stderr
    assert "swapper: auto picked inswapper_128 (installed, with its identity model arcface_w600k_r50)" in result.stderr
    assert f"swapper: inswapper (128px) from {scene['home'] / 'models' / 'inswapper_128.onnx'}" in result.stderr
    # only the identity model of buffalo_l is installed: that folder is no pack, so analysis stays on dlib
    assert "face analysis: dlib" in result.stderr
    changed = np.abs(read_image(scene["root"] / "out.png").astype(int) - read_image(scene["photo"])).mean()
    assert changed > 0.5


def test_a_model_name_brings_its_identity_model(scene: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    result = swap(scene, scene["home"], monkeypatch, "--model", "inswapper_128")
    assert result.returncode == 0, result.stderr
    assert "auto picked" not in result.stderr and "swapper: inswapper (128px)" in result.stderr


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (("--model", "inswapper_128_fp16"), 1, "not installed: python -m realtime.models fetch inswapper_128_fp16"),
        (("--model", "inswapper_128", "--identity-model", "simswap_arcface"), 1, "simswap_arcface is not installed"),
        (("--swapper", "simswap"), 2, "--swapper simswap needs --model"),
        (("--model", "no_such_model"), 1, "model file not found: no_such_model"),
    ],
)
def test_model_name_mistakes_are_one_line(
    scene: dict[str, Path], monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...], code: int, says: str
) -> None:
    result = swap(scene, scene["home"], monkeypatch, *extra, "--quiet")
    assert result.returncode == code and len(result.error_lines()) == 1 and says in result.stderr, result.stderr


def test_a_model_name_is_checked_once_resolved(scene: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """--pixel-boost needs inswapper: a name's kind is known only from the store, not from its spelling."""
    result = swap(scene, scene["home"], monkeypatch, "--model", "inswapper_128", "--pixel-boost", "256")
    assert result.returncode == 0, result.stderr
    assert "pixel boost: 256px from 4 views per face" in result.stderr


def test_simswap_with_its_pickled_identity_model_is_picked_only_when_trusted(
    tmp_path: Path, scene: dict[str, Path], monkeypatch: pytest.MonkeyPatch, gen: torch.Generator
) -> None:
    from tests.models.test_generator import random_official_state

    home = tmp_path / "home"
    (home / "models" / "simswap" / "224").mkdir(parents=True)
    state = random_official_state(224, gen)
    for key in [k for k in state if k.endswith("running_var")]:
        state[key] = state[key].abs() + 0.5
    torch.save(state, home / "models" / "simswap" / "224" / "latest_net_G.pth")
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 2), torch.nn.AdaptiveAvgPool2d(8), torch.nn.Flatten())
    torch.save(
        torch.nn.Sequential(network, torch.nn.Linear(256, 512)), home / "models" / "simswap" / "arcface_checkpoint.tar"
    )
    untrusted = swap(scene, home, monkeypatch)
    assert untrusted.returncode == 0 and "auto: no neural swapper installed" in untrusted.stderr, untrusted.stderr
    trusted = swap(scene, home, monkeypatch, "--trust-pickle")
    assert trusted.returncode == 0, trusted.stderr
    assert "swapper: auto picked simswap_224 (installed, with its identity model simswap_arcface)" in trusted.stderr
