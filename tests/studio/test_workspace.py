"""Session folders: upload names never leave the session's folder, the size limit, and cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.errors import InputError
from realtime.studio.workspace import Workspace, safe_name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("face.jpg", "face.jpg"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("/abs/path/clip.mp4", "clip.mp4"),
        ("..", "upload"),
        ("", "upload"),
        (".hidden.png", "hidden.png"),
        ("Ünïcödé façe.jpg", "Unicode_face.jpg"),
        ("a b;rm -rf $HOME.mp4", "a_b_rm_-rf_HOME.mp4"),
        ("x" * 300 + ".mp4", "x" * 96 + ".mp4"),
        ("nul\x00byte.jpg", "nul_byte.jpg"),
    ],
)
def test_safe_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


def test_uploads_stay_inside_the_session_folder(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    session = workspace.session("../../outside")
    assert session.folder.parent == workspace.root
    evil = tmp_path / "uploads" / "..evil.jpg"
    evil.parent.mkdir()
    evil.write_bytes(b"12345")
    first = session.take_upload(evil, "sources", max_bytes=100)
    second = session.take_upload(evil, "sources", max_bytes=100)
    assert first == session.folder / "sources" / "evil.jpg"
    assert second == session.folder / "sources" / "evil-2.jpg"  # a second upload of one name keeps the first
    assert first.read_bytes() == b"12345"


def test_an_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    session = Workspace(tmp_path / "ws").session("s")
    big = tmp_path / "big.mp4"
    big.write_bytes(b"0" * 2048)
    with pytest.raises(InputError, match=r"big\.mp4 is 2,048 bytes, over the upload limit of 1,024 bytes"):
        session.take_upload(big, "target", max_bytes=1024)
    assert not (session.folder / "target" / "big.mp4").exists()


def test_ending_a_session_deletes_its_files_and_closing_deletes_all(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    a, b = workspace.session("a"), workspace.session("b")
    (a.folder / "x").write_text("x")
    workspace.end("a")
    assert not a.folder.exists() and b.folder.exists()
    assert workspace.session("a") is not a  # a new session, a new folder
    workspace.close()
    assert not workspace.root.exists()
    assert (tmp_path / "ws").is_dir()  # the folder it was given is the user's: only its own subfolder went
