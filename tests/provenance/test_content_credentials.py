"""Content Credentials on realtime's outputs, read back with c2pa-python's own Reader (not realtime's wrapper): the
assertions every output carries, a tampered and a re-encoded file, the signing keys (local chain made once, the
user's chain), and the errors that stop a job before any work."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import signal
import threading
from pathlib import Path

import c2pa
import cv2
import numpy as np
import pytest

import realtime
from realtime.errors import OutputError
from realtime.io.files import TempOutput
from realtime.io.images import write_image
from realtime.provenance.credentials import LOCAL_ISSUER, local_credentials
from realtime.provenance.signing import SOFT_BINDING_ALG, ContentSigner
from realtime.samples import ClipSpec, face_image, make_clip
from realtime.verify import verify_file
from realtime.watermark import decode_payload
from tests.cli import call_main
from tests.conftest import WATERMARK_ID, SwappedClip
from tests.media import reencoded_frames
from tests.provenance.certs import ORGANISATION, write_chain


def _read(path: Path) -> tuple[dict, str, list[str]]:
    """The active manifest, the validation state and the failed checks' codes, from c2pa's Reader."""
    with c2pa.Reader(str(path)) as reader:
        results = reader.get_validation_results() or {}
        failures = [f["code"] for f in (results.get("activeManifest") or {}).get("failure", [])]
        return reader.get_active_manifest(), reader.get_validation_state(), failures


def _assertion(manifest: dict, label: str) -> dict:
    [data] = [a["data"] for a in manifest["assertions"] if a["label"].startswith(label)]
    return data


def check_manifest(output: Path, source: Path, watermark_id: int, issuer: str = LOCAL_ISSUER) -> None:
    """``output`` carries a valid manifest that says what the C2PA issue asks for."""
    manifest, state, failures = _read(output)
    assert state == "Valid", failures
    assert set(failures) <= {"signingCredential.untrusted"}  # no trust list knows a test's or the local CA
    actions = _assertion(manifest, "c2pa.actions")["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert actions[1]["digitalSourceType"] == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    )
    assert actions[1]["softwareAgent"] == {"name": "realtime", "version": realtime.__version__}
    [ingredient] = manifest["ingredients"]
    assert (ingredient["title"], ingredient["relationship"]) == (source.name, "parentOf")
    assert ingredient["metadata"]["org.realtime.sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert "thumbnail" not in ingredient and "thumbnail" not in manifest  # the input's hash, not its content
    soft = _assertion(manifest, "c2pa.soft-binding")
    assert soft["alg"] == SOFT_BINDING_ALG
    payload = np.unpackbits(np.frombuffer(base64.b64decode(soft["blocks"][0]["value"]), np.uint8)).astype(bool)
    assert decode_payload(payload) == watermark_id
    assert manifest["signature_info"]["issuer"] == issuer


def test_a_swapped_video_is_signed_and_verify_reports_all_three_signals(swapped_clip: SwappedClip) -> None:
    check_manifest(swapped_clip.out, swapped_clip.clip, WATERMARK_ID)
    result = call_main("realtime.verify", swapped_clip.out)
    assert result.returncode == 0, result.stderr
    assert f"marked, id {WATERMARK_ID}" in result.stdout and "metadata: synthetic (realtime" in result.stdout
    assert "content credentials: valid, compositeWithTrainedAlgorithmicMedia, signed by a local, untrusted " \
           "certificate" in result.stdout  # fmt: skip


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_swapped_images_are_signed(tmp_path: Path, swapped_clip: SwappedClip, suffix: str) -> None:
    photo, out = tmp_path / "photo.png", tmp_path / f"out{suffix}"
    write_image(photo, face_image("trio"))
    result = call_main("realtime.swap", photo, out, "--source", swapped_clip.source, "--watermark-id", "7", "--quiet")
    assert result.returncode == 0, result.stderr
    check_manifest(out, photo, 7)
    report = verify_file(out)
    assert report.marked and report.credentials.synthetic and report.credentials.watermark_id == 7


def test_a_mov_output_is_signed(tmp_path: Path, swapped_clip: SwappedClip) -> None:
    clip = make_clip(tmp_path / "clip.mov", ClipSpec(width=320, height=180, seconds=0.5))
    out = tmp_path / "out.mov"
    result = call_main("realtime.swap", clip, out, "--source", swapped_clip.source, "--quiet")
    assert result.returncode == 0, result.stderr
    check_manifest(out, clip, 0)


def test_a_file_changed_after_signing_reads_invalid_and_its_mark_still_counts(
    tmp_path: Path, swapped_clip: SwappedClip
) -> None:
    tampered = tmp_path / "tampered.mp4"
    data = bytearray(swapped_clip.out.read_bytes())
    end_of_frames = data.index(b"moov") - 4  # the index follows the frames: the last frame's bytes end here
    for k in range(end_of_frames - 16, end_of_frames - 8):  # a few bytes of the last frame (an earlier one would
        data[k] ^= 0x55  # spoil the frames that refer to it)
    tampered.write_bytes(bytes(data))
    _, state, failures = _read(tampered)
    assert state == "Invalid" and "assertion.bmffHash.mismatch" in failures
    result = call_main("realtime.verify", tampered)
    assert result.returncode == 0, result.stdout  # the mark still says synthetic
    assert "content credentials: invalid (assertion.bmffHash.mismatch" in result.stdout


def test_a_tampered_image_reads_invalid(tmp_path: Path, swapped_clip: SwappedClip) -> None:
    photo, out = tmp_path / "photo.png", tmp_path / "out.png"
    write_image(photo, face_image("trio"))
    assert call_main("realtime.swap", photo, out, "--source", swapped_clip.source, "--quiet").returncode == 0
    data = out.read_bytes()
    at = data.index(b"generator\x00realtime") + len(b"generator\x00")  # the text chunk: pixels stay readable
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(data[:at] + b"R" + data[at + 1 :])
    _, state, failures = _read(tampered)
    assert state == "Invalid" and "assertion.dataHash.mismatch" in failures
    assert verify_file(tampered).credentials.state == "invalid"


def test_a_reencoded_copy_has_no_manifest_but_verifies_by_its_mark(tmp_path: Path, swapped_clip: SwappedClip) -> None:
    copy = tmp_path / "reuploaded.mp4"
    reencoded_frames(swapped_clip.out, copy, crf=23, watermark_id=None)
    with pytest.raises(c2pa.C2paError):
        _read(copy)
    result = call_main("realtime.verify", copy)
    assert result.returncode == 0 and f"marked, id {WATERMARK_ID}" in result.stdout
    assert "content credentials: none" in result.stdout


def test_the_local_chain_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made: list[bytes] = []
    threads = [threading.Thread(target=lambda: made.append(local_credentials(home).chain_pem)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 4 and len(set(made)) == 1  # four at once: one chain, its key matching (load checks it)
    assert local_credentials(home).chain_pem == made[0]
    assert (os.stat(home / "c2pa" / "local-key.pem").st_mode & 0o777) == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["c2pa"]  # the losers' drafts are gone


def test_a_users_chain_signs_from_options_and_from_the_environment(
    tmp_path: Path, swapped_clip: SwappedClip, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, key = write_chain(tmp_path)
    photo = tmp_path / "photo.png"
    write_image(photo, face_image("trio"))
    out = tmp_path / "out.jpg"
    args = ("--source", swapped_clip.source, "--quiet")
    assert call_main("realtime.swap", photo, out, "--c2pa-cert", chain, "--c2pa-key", key, *args).returncode == 0
    check_manifest(out, photo, 0, issuer=ORGANISATION)
    assert verify_file(out).credentials.describe() == (
        f"valid, compositeWithTrainedAlgorithmicMedia, signed by {ORGANISATION} / Example signer (not on a trust list)"
    )
    monkeypatch.setenv("REALTIME_C2PA_CERT", str(chain))
    monkeypatch.setenv("REALTIME_C2PA_KEY", str(key))
    out.unlink()
    assert call_main("realtime.swap", photo, out, *args).returncode == 0
    check_manifest(out, photo, 0, issuer=ORGANISATION)


def test_signing_problems_stop_the_job_before_any_work_with_one_line(tmp_path: Path, swapped_clip: SwappedClip
                                                                      ) -> None:  # fmt: skip
    chain, key = write_chain(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = write_chain(tmp_path / "other")
    (tmp_path / "old").mkdir()
    old_chain, old_key = write_chain(tmp_path / "old", expired=True)
    not_pem = tmp_path / "notes.pem"
    not_pem.write_text("hello")
    photo = tmp_path / "photo.png"
    write_image(photo, face_image("trio"))
    cases = [
        (("--c2pa-cert", chain), 2, "--c2pa-cert and --c2pa-key go together"),
        (("--c2pa-cert", tmp_path / "missing.pem", "--c2pa-key", key), 1, "C2PA certificate chain not found"),
        (("--c2pa-cert", not_pem, "--c2pa-key", key), 1, "is not a PEM certificate chain"),
        (("--c2pa-cert", chain, "--c2pa-key", not_pem), 1, "is not a usable PEM private key"),
        (("--c2pa-cert", chain, "--c2pa-key", other_key), 1, "does not belong to the first certificate"),
        (("--c2pa-cert", old_chain, "--c2pa-key", old_key), 1, "cannot sign with"),
    ]
    for extra, code, message in cases:
        out = tmp_path / "out.png"
        result = call_main("realtime.swap", photo, out, "--source", swapped_clip.source, *extra)
        assert result.returncode == code, (extra, result.stderr)
        [line] = result.error_lines()
        assert line.startswith("python -m realtime.swap: error:") and message in line, line
        assert not out.exists() and not list(tmp_path.glob(".out.*"))
    clip = make_clip(tmp_path / "in.mp4", ClipSpec(width=160, height=96, seconds=0.2))
    for source, suffix in ((clip, ".mkv"), (clip, ".webm"), (photo, ".bmp")):
        result = call_main("realtime.swap", source, tmp_path / f"out{suffix}", "--source", swapped_clip.source)
        assert result.returncode == 2 and "Content Credentials cannot be embedded in" in result.stderr


def test_a_failed_signature_leaves_nothing(tmp_path: Path) -> None:
    signer = ContentSigner(local_credentials(tmp_path / "home"))
    target = tmp_path / "out.png"
    image = cv2.cvtColor(face_image("astronaut"), cv2.COLOR_RGB2BGR)

    def truncate_then_sign(path: Path) -> None:  # a writer that produced a broken file: c2pa cannot parse it
        path.write_bytes(path.read_bytes()[:100])
        signer.sign(path, target.name, 0, None)

    with pytest.raises(OutputError, match=r"cannot sign out\.png with Content Credentials"):
        write_image(target, image, synthetic=True, finish=truncate_then_sign)
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]

    def interrupted(path: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), TempOutput(target, finish=interrupted) as temp:
        temp.write_bytes(b"x")
    assert not target.exists() and list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_ctrl_c_while_signing_is_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """c2pa reads the file through Python callbacks and drops exceptions raised in them: a Ctrl-C that arrives while
    it reads must still stop the job once signing returns, and leave no output."""
    signer = ContentSigner(local_credentials(tmp_path / "home"))
    real = ContentSigner._sign_stream

    class InterruptedRead(io.BytesIO):
        sent = False

        def readinto(self, buffer: bytearray) -> int:  # what c2pa reads through, called from native code
            if not InterruptedRead.sent:
                InterruptedRead.sent = True
                os.kill(os.getpid(), signal.SIGINT)
            return super().readinto(buffer)

    def reading_through_an_interrupt(self: ContentSigner, definition: dict, mime: str, source: io.IOBase,
                                     dest: io.IOBase) -> None:  # fmt: skip
        real(self, definition, mime, InterruptedRead(source.read()), dest)

    monkeypatch.setattr(ContentSigner, "_sign_stream", reading_through_an_interrupt)
    target = tmp_path / "out.png"
    with pytest.raises(KeyboardInterrupt):
        write_image(target, face_image("astronaut"), synthetic=True, finish=signer.finisher(target, 0, None))
    assert InterruptedRead.sent and not target.exists() and list(tmp_path.iterdir()) == [tmp_path / "home"]
