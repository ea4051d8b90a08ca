"""The model store: fetch (resume, retries, hash check, mirror, offline), import, verify, list and path, against a
loopback HTTP server the tests start and stop."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest

from realtime.errors import InputError, ModelsMissingError
from realtime.models.download import DownloadFailed
from realtime.models.store import Manifest, ModelEntry, ModelStore, load_manifest
from tests.cli import call_main
from tests.loopback import LoopbackServer

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: several read chunks
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _entry(url: str, sha: str | None = SHA, file: str = "swap/a.onnx", member: str | None = None) -> ModelEntry:
    return ModelEntry("a", "swapper", file, url, sha, len(PAYLOAD), "test only", "built by the test", member)


def _store(tmp_path: Path, *entries: ModelEntry) -> ModelStore:
    return ModelStore(tmp_path / "home", Manifest({e.name: e for e in entries}, ()), tmp_path / "insightface")


def _nothing_left(store: ModelStore, entry: ModelEntry) -> bool:
    partials = store.root / ".partial"
    return not (store.root / entry.file).exists() and not (partials.exists() and any(partials.iterdir()))


def test_fetch_installs_the_file_and_reports_progress(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/a.onnx"] = PAYLOAD
    entry = _entry(f"{loopback.base}/a.onnx")
    store = _store(tmp_path, entry)
    seen: list[tuple[int, int | None]] = []
    path = store.fetch(entry, progress=lambda done, total: seen.append((done, total)))
    assert path == store.root / "swap/a.onnx" and path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) > 2
    assert store.resolve("a") == path and store.verify()[0][2] == "ok"
    assert store.fetch(entry) == path and len(loopback.requests) == 1  # installed: not downloaded again


def test_a_dropped_connection_is_resumed_with_a_range_request(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/a.onnx"] = PAYLOAD
    loopback.drop_after["/a.onnx"] = 300_000
    entry = _entry(f"{loopback.base}/a.onnx")
    path = _store(tmp_path, entry).fetch(entry, retries=2, backoff=0.0)
    assert path.read_bytes() == PAYLOAD
    assert loopback.requests == [("/a.onnx", None), ("/a.onnx", "bytes=300000-")]


def test_a_partial_file_from_an_earlier_run_is_resumed(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/a.onnx"] = PAYLOAD
    loopback.drop_after["/a.onnx"] = 500_000
    entry = _entry(f"{loopback.base}/a.onnx")
    store = _store(tmp_path, entry)
    with pytest.raises(DownloadFailed) as failed:
        store.fetch(entry, retries=0)
    assert not failed.value.offline and not (store.root / entry.file).exists()
    assert store.fetch(entry).read_bytes() == PAYLOAD  # a new run picks up the kept partial file
    assert loopback.requests[-1] == ("/a.onnx", "bytes=500000-")


def test_a_hash_mismatch_is_refused_and_leaves_nothing(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/a.onnx"] = PAYLOAD[:-1] + b"x"
    entry = _entry(f"{loopback.base}/a.onnx")
    store = _store(tmp_path, entry)
    with pytest.raises(InputError, match="not the expected"):
        store.fetch(entry)
    assert _nothing_left(store, entry)
    with pytest.raises(ModelsMissingError, match="fetch a"):
        store.resolve("a")


def test_a_mirror_serves_the_same_file_names(
    tmp_path: Path, loopback: LoopbackServer, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback.files["/mirror/a.onnx"] = PAYLOAD
    entry = _entry(f"http://127.0.0.1:{closed_port}/releases/v1/a.onnx")  # the origin is down
    store = _store(tmp_path, entry)
    assert store.fetch(entry, mirror=f"{loopback.base}/mirror/").read_bytes() == PAYLOAD
    (store.root / entry.file).unlink()
    monkeypatch.setenv("REALTIME_MODELS_MIRROR", f"{loopback.base}/mirror")
    assert store.fetch(entry).read_bytes() == PAYLOAD


def test_connection_refused_is_offline_after_the_retries(tmp_path: Path, closed_port: int) -> None:
    entry = _entry(f"http://127.0.0.1:{closed_port}/a.onnx")
    store = _store(tmp_path, entry)
    with pytest.raises(DownloadFailed, match="after 3 attempts") as failed:
        store.fetch(entry, retries=2, backoff=0.0)
    assert failed.value.offline and _nothing_left(store, entry)


def test_an_unpinned_model_has_its_hash_recorded_and_verified(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/a.onnx"] = PAYLOAD
    entry = _entry(f"{loopback.base}/a.onnx", sha=None)
    store = _store(tmp_path, entry)
    notes: list[str] = []
    path = store.fetch(entry, note=notes.append)
    assert notes == [f"a is unpinned: recorded sha256 {SHA} (verify checks against it from now on)"]
    assert store.expected_hash(entry) == SHA and store.verify()[0][2] == "ok"
    path.write_bytes(b"tampered")
    assert store.verify()[0][2].startswith("mismatch")


def test_a_file_is_taken_out_of_a_zip_download(tmp_path: Path, loopback: LoopbackServer) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("checkpoints/people/latest_net_D1.pth", b"not this one")
        zf.writestr("checkpoints/people/latest_net_G.pth", PAYLOAD)
    loopback.files["/checkpoints.zip"] = archive.getvalue()
    entry = _entry(f"{loopback.base}/checkpoints.zip", sha=None, file="simswap/G.pth", member="people/latest_net_G.pth")
    store = _store(tmp_path, entry)
    path = store.fetch(entry)
    assert path.read_bytes() == PAYLOAD and store.expected_hash(entry) == SHA
    assert not any((store.root / ".partial").iterdir())  # the archive is not kept


def test_concurrent_fetches_of_one_file_take_turns(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/a.onnx"] = PAYLOAD
    entry = _entry(f"{loopback.base}/a.onnx")
    stores = [_store(tmp_path, entry) for _ in range(3)]
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.fetch(entry).read_bytes())) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [PAYLOAD] * 3 and len(loopback.requests) == 1


def test_import_checks_the_file_against_the_manifest(tmp_path: Path) -> None:
    pinned = _entry("http://unused.invalid/a.onnx")
    store = _store(tmp_path, pinned)
    good, other = tmp_path / "downloaded.onnx", tmp_path / "mine.onnx"
    good.write_bytes(PAYLOAD)
    other.write_bytes(b"some other model")
    entry, path, warning = store.import_file(good)  # recognised by its hash, whatever its file name
    assert entry.name == "a" and path == store.root / "swap/a.onnx" and warning is None
    with pytest.raises(InputError, match="is not a"):
        store.import_file(other, name="a")
    entry, path, warning = store.import_file(other, kind="enhancer")
    assert entry.name == "mine" and entry.kind == "enhancer" and "not in the manifest" in (warning or "")
    assert store.resolve("mine") == path and [e.name for e, _ in store.installed("enhancer")] == ["mine"]
    assert {e.name: s for e, _, s in store.verify()} == {"a": "ok", "mine": "ok"}


def test_files_in_insightfaces_folder_are_found(tmp_path: Path) -> None:
    entry = _entry("http://unused.invalid/a.onnx", file="buffalo_l/a.onnx")
    store = _store(tmp_path, entry)
    (tmp_path / "insightface" / "buffalo_l").mkdir(parents=True)
    (tmp_path / "insightface" / "buffalo_l" / "a.onnx").write_bytes(PAYLOAD)
    assert store.find(entry) == tmp_path / "insightface" / "buffalo_l" / "a.onnx"


def test_the_package_manifest_is_complete() -> None:
    manifest = load_manifest()
    kinds = {e.kind for e in manifest.models.values()}
    assert kinds == {"detector", "landmarks", "identity", "swapper", "enhancer", "occlusion", "parser"}
    assert set(manifest.recommended) <= set(manifest.models)
    for entry in manifest.models.values():
        assert entry.url and entry.url.startswith("https://") and entry.licence, entry.name
        assert entry.sha256 is None or len(entry.sha256) == 64, entry.name
        assert entry.identity is None or manifest.models[entry.identity].kind == "identity", entry.name


# The command line, in-process ------------------------------------------------------------------------------------


def test_cli_list_import_verify_and_path(tmp_path: Path) -> None:
    home, model = tmp_path / "home", tmp_path / "enhance.onnx"
    model.write_bytes(PAYLOAD)
    listed = call_main("realtime.models.__main__", "--home", home, "list", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert {r["name"] for r in rows} >= {"inswapper_128", "gfpgan_1.4", "xseg"} and not any(
        r["installed"] for r in rows
    )
    inswapper = next(r for r in rows if r["name"] == "inswapper_128")
    assert inswapper["pinned"] and inswapper["licence"] and inswapper["url"].startswith("https://")
    imported = call_main("realtime.models.__main__", "--home", home, "import", model, "--kind", "enhancer")
    assert imported.returncode == 0 and "not in the manifest" in imported.stderr
    path = call_main("realtime.models.__main__", "--home", home, "path", "enhance")
    assert path.returncode == 0 and Path(path.stdout.strip()).read_bytes() == PAYLOAD
    text = call_main("realtime.models.__main__", "--home", home, "list")
    assert "enhance" in text.stdout and "installed: " in text.stdout and "non-commercial" in text.stdout
    assert call_main("realtime.models.__main__", "--home", home, "verify").returncode == 0
    Path(path.stdout.strip()).write_bytes(b"changed")
    broken = call_main("realtime.models.__main__", "--home", home, "verify")
    assert broken.returncode == 1 and "mismatch" in broken.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["fetch"], 2, "needs model names or --recommended"),
        (["fetch", "no_such_model"], 2, "unknown model 'no_such_model'"),
        (["path", "inswapper_128"], 1, "not installed: python -m realtime.models fetch inswapper_128"),
        (["import", "missing.onnx"], 1, "file not found"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    result = call_main("realtime.models.__main__", "--home", tmp_path, *args)
    assert result.returncode == code and len(result.error_lines()) == 1 and says in result.stderr, result.stderr


def test_cli_fetch_offline_says_how_to_import(tmp_path: Path, closed_port: int) -> None:
    mirror = f"http://127.0.0.1:{closed_port}"
    result = call_main(
        "realtime.models.__main__", "--home", tmp_path, "fetch", "xseg", "--mirror", mirror, "--retries", "0"
    )
    assert result.returncode == 1 and len(result.error_lines()) == 1
    assert "offline or unreachable" in result.stderr and "import FILE --name xseg" in result.stderr


def test_cli_fetch_refuses_a_mirror_serving_other_bytes(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.files["/GFPGANv1.4.onnx"] = b"not GFPGAN"
    result = call_main("realtime.models.__main__", "--home", tmp_path, "fetch", "gfpgan_1.4", "--mirror", loopback.base)
    assert result.returncode == 1 and "not the expected" in result.stderr and "nothing was installed" in result.stderr
    assert not (tmp_path / "models" / "GFPGANv1.4.onnx").exists()
