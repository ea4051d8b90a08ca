"""Face analysis with a local insightface model pack (buffalo_l, antelopev2, buffalo_s, ... or your own).

A pack is a folder of ONNX files. insightface's own model router (``insightface.model_zoo.get_model``) tells the
files apart by their input and output shapes; this backend needs three of them:

- ``detection``: SCRFD (buffalo_l's ``det_10g.onnx``), boxes and five keypoints;
- ``landmark_3d_68``: the 68-point iBUG landmarks (``1k3d68.onnx``), which the classic swapper triangulates;
- ``recognition``: ArcFace (``w600k_r50.onnx``), a 512-d identity embedding compared by cosine distance.

Other files in the pack (``2d106det``, ``genderage``) are ignored. Nothing is downloaded: packs are found under
``~/.insightface/models`` (insightface's own location) or a folder the user names.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from realtime.errors import InputError, ModelsMissingError
from realtime.faces.types import Face, kps5_from_68

__all__ = ["PACK_PREFERENCE", "InsightFaceAnalyzer", "default_models_root", "find_model_pack"]

# When several packs are installed, auto picks the first of these that is present, then any other in name order.
PACK_PREFERENCE = ("buffalo_l", "antelopev2", "buffalo_m", "buffalo_s", "buffalo_sc")
REQUIRED_TASKS = {
    "detection": "a face detector (SCRFD, like buffalo_l's det_10g.onnx)",
    "landmark_3d_68": "a 68-point landmark model (like buffalo_l's 1k3d68.onnx)",
    "recognition": "an identity model (ArcFace, like buffalo_l's w600k_r50.onnx)",
}


def default_models_root() -> Path:
    """Where insightface keeps its packs: ``~/.insightface/models``."""
    return Path("~/.insightface/models").expanduser()


def _is_pack(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.onnx"))


def find_model_pack(models_dir: str | Path | None = None) -> Path | None:
    """The model pack to use: ``models_dir`` itself when it holds ``.onnx`` files, else its preferred sub-folder
    (see ``PACK_PREFERENCE``); ``models_dir=None`` searches :func:`default_models_root`. None when there is none."""
    root = Path(models_dir).expanduser() if models_dir is not None else default_models_root()
    if _is_pack(root):
        return root
    if not root.is_dir():
        return None
    packs = sorted(p for p in root.iterdir() if _is_pack(p))
    rank = {name: i for i, name in enumerate(PACK_PREFERENCE)}
    packs.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
    return packs[0] if packs else None


def _load_pack(pack: Path, providers: list[str]) -> dict[str, object]:
    """The pack's models by insightface task name; InputError naming the file that cannot be loaded."""
    try:
        from insightface.model_zoo import get_model
    except ImportError as exc:
        raise ModelsMissingError(f"the insightface backend needs insightface and onnxruntime ({exc})") from exc
    models: dict[str, object] = {}
    for path in sorted(pack.glob("*.onnx")):
        try:
            model = get_model(str(path), providers=providers)
        except Exception as exc:  # onnx/onnxruntime raise many types for corrupt or truncated files
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"cannot load model {path}: {first_line}") from exc
        task = getattr(model, "taskname", None)
        if task in REQUIRED_TASKS and task not in models:
            models[task] = model
    missing = [what for task, what in REQUIRED_TASKS.items() if task not in models]
    if missing:
        raise InputError(f"model pack {pack} lacks {' and '.join(missing)}")
    return models


class InsightFaceAnalyzer:
    """Detection (SCRFD), 68 landmarks and ArcFace embeddings from an insightface model pack, through onnxruntime.

    Args:
        pack: folder of the pack's ``.onnx`` files (see :func:`find_model_pack`).
        det_size: square input size of the detector (insightface's default 640; larger finds smaller faces).
        det_thresh: detections scoring below this (0-1) are dropped.
        device: ``cpu`` or ``cuda`` (onnxruntime's CUDA provider when installed, else an error).
    """

    name = "insightface"
    embedding_dim = 512
    # Cosine distance under which two ArcFace embeddings are the same person (cosine similarity above 0.4; ArcFace
    # puts the same person at ~0.5-0.8 and different people near 0); facefusion uses the same operating point.
    same_person_distance = 0.6

    def __init__(self, pack: str | Path, det_size: int = 640, det_thresh: float = 0.5, device: str = "cpu") -> None:
        import onnxruntime

        self.pack, self.device = Path(pack), device
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ModelsMissingError("insightface on cuda needs onnxruntime-gpu (CUDAExecutionProvider)")
            providers.insert(0, "CUDAExecutionProvider")
        onnxruntime.set_default_logger_severity(3)
        models = _load_pack(self.pack, providers)
        self._detector, self._landmarker, self._recognizer = (models[t] for t in REQUIRED_TASKS)
        ctx = 0 if device == "cuda" else -1
        self._detector.prepare(ctx, input_size=(det_size, det_size), det_thresh=det_thresh)  # type: ignore[attr-defined]
        self._landmarker.prepare(ctx)  # type: ignore[attr-defined]
        self._recognizer.prepare(ctx)  # type: ignore[attr-defined]
        self.files = {task: Path(m.model_file).name for task, m in models.items()}  # type: ignore[attr-defined]

    def describe(self) -> str:
        """One line for the user: the pack and its files."""
        return f"insightface pack {self.pack.name} ({', '.join(self.files.values())}) at {self.pack}, on {self.device}"

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame [H,W,3], largest first, with 68 landmarks and kps5 (no embedding yet).

        ``kps5`` comes from the 68 landmarks (as on frames between detections, so tracking sees one definition);
        the detector's own five keypoints are kept in ``extra["kps_detector"]`` for the ArcFace crop."""
        bgr = np.ascontiguousarray(frame[..., ::-1])
        boxes, kpss = self._detector.detect(bgr, max_num=0)  # type: ignore[attr-defined]
        faces = []
        for i in range(boxes.shape[0]):
            face = self._fit(bgr, boxes[i, :4].astype(np.float64), float(boxes[i, 4]))
            if kpss is not None:
                face.extra["kps_detector"] = kpss[i].astype(np.float64)
            faces.append(face)
        faces.sort(key=lambda f: -f.size)
        return faces

    def landmarks(self, frame: np.ndarray, bbox: np.ndarray, score: float = 0.0) -> Face:
        """Fit the 68 landmarks for the box ``bbox`` (x0, y0, x1, y1) of an RGB uint8 frame; returns a Face."""
        return self._fit(np.ascontiguousarray(frame[..., ::-1]), np.asarray(bbox, dtype=np.float64), score)

    def _fit(self, bgr: np.ndarray, bbox: np.ndarray, score: float) -> Face:
        from insightface.app.common import Face as InsightFace

        pts = self._landmarker.get(bgr, InsightFace(bbox=bbox))  # type: ignore[attr-defined]
        pts = np.asarray(pts[:, :2], dtype=np.float64)
        return Face(bbox=bbox, score=score, landmarks=pts, kps5=kps5_from_68(pts))

    def embed(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """L2-normalised 512-d float32 ArcFace embedding of ``face`` (cosine metric; see :meth:`distance`), taken
        from the ArcFace-112 crop on the detector's keypoints (or kps5); also stored on the face."""
        from insightface.app.common import Face as InsightFace

        kps = face.extra.get("kps_detector", face.kps5)
        bgr = np.ascontiguousarray(frame[..., ::-1])
        with warnings.catch_warnings():  # insightface's crop calls an API scikit-image has deprecated
            warnings.filterwarnings("ignore", message=".*estimate.* is deprecated", category=FutureWarning)
            raw = self._recognizer.get(bgr, InsightFace(bbox=face.bbox, kps=kps))  # type: ignore[attr-defined]
        raw = np.asarray(raw, dtype=np.float64)
        face.embedding = (raw / max(float(np.linalg.norm(raw)), 1e-12)).astype(np.float32)
        return face.embedding

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine distance 1 - cos(a, b) in [0, 2] (< ``same_person_distance`` means the same person)."""
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(1.0 - a64 @ b64 / max(float(np.linalg.norm(a64) * np.linalg.norm(b64)), 1e-12))
