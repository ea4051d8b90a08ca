"""Signing outputs with Content Credentials (a C2PA manifest embedded in the file, through ``c2pa-python``).

Each manifest says what was made and how:

- a ``c2pa.actions.v2`` assertion: the input ``c2pa.opened``, then ``c2pa.edited`` with IPTC's digital source type
  ``compositeWithTrainedAlgorithmicMedia`` (real footage with AI-generated faces composited in) by the software
  agent ``realtime`` and its version;
- the input as a ``parentOf`` ingredient: its name, format and SHA-256, never its content (thumbnails are off);
- a ``c2pa.soft-binding`` assertion naming this project's invisible mark (:data:`SOFT_BINDING_ALG`) and the
  64-bit payload it carries (marker, watermark id, CRC), so the mark can lead back to a manifest that was stripped.

The manifest is hard-bound to the file's bytes (a data hash for images, a BMFF hash for MP4/MOV), so any later
change to the file makes it invalid, while the mark survives re-encoding. Formats C2PA cannot embed into
(Matroska, WebM, BMP) are refused up front by :func:`check_signable`.
"""

from __future__ import annotations

import base64
import contextlib
import io
import mimetypes
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from realtime import __version__
from realtime.errors import InputError, OutputError, UsageError
from realtime.io.files import file_sha256
from realtime.io.metadata import DIGITAL_SOURCE_TYPE
from realtime.provenance.credentials import SigningCredentials
from realtime.watermark import payload_bytes

__all__ = ["SIGNABLE", "SOFT_BINDING_ALG", "ContentSigner", "check_signable", "manifest_definition"]

# output suffix -> the MIME type c2pa signs it as
SIGNABLE = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
}
SOFT_BINDING_ALG = "org.realtime.watermark.v2"  # this project's mark (see realtime.watermark); v2: coded
_CERTIFICATE_RULES = (
    "C2PA wants a signing certificate issued by a CA, with the digitalSignature key usage, an extended key usage "
    "such as emailProtection or documentSigning, and an authority key identifier"
)
_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}  # an ingredient is named by its hash, not shown


def check_signable(path: Path) -> None:
    """UsageError unless Content Credentials can be embedded in a file with ``path``'s suffix."""
    if path.suffix.lower() not in SIGNABLE:
        kinds = " ".join(sorted(SIGNABLE))
        raise UsageError(
            f"{path.name}: Content Credentials cannot be embedded in {path.suffix or 'a file without a suffix'} "
            f"files, and every output is signed; write one of {kinds}"
        )


@dataclass(frozen=True)
class Ingredient:
    """What the manifest records of an input: its file name, MIME type and SHA-256 (64 hex digits)."""

    title: str
    format: str
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Ingredient:
        """The record of the file at ``path`` (hashed in pieces: memory stays flat); InputError when unreadable."""
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise InputError(f"cannot read {path} to record it in the Content Credentials: {exc.strerror}") from exc
        kind = SIGNABLE.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(path.name, kind, digest)


def manifest_definition(title: str, watermark_id: int, ingredient: Ingredient | None) -> dict[str, object]:
    """The manifest ``c2pa.Builder`` signs for an output named ``title`` (see the module notes); without an
    ``ingredient`` (a live recording) the one action is ``c2pa.created``, with the same source type."""
    agent = {"name": "realtime", "version": __version__}
    edit = {
        "action": "c2pa.edited",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": agent,
        "description": "faces replaced by a face-swap model",
    }
    actions: list[dict[str, object]] = [{**edit, "action": "c2pa.created"}]
    definition: dict[str, object] = {"claim_generator_info": [agent], "title": title}
    if ingredient is not None:
        actions = [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["input"]}}, edit]
        definition["ingredients"] = [
            {
                "title": ingredient.title,
                "format": ingredient.format,
                "relationship": "parentOf",
                "label": "input",
                "instance_id": f"sha256:{ingredient.sha256}",
                "metadata": {"org.realtime.sha256": ingredient.sha256},
            }
        ]
    soft_binding = {
        "alg": SOFT_BINDING_ALG,
        "name": f"realtime invisible mark, id {watermark_id}",
        "blocks": [{"scope": {}, "value": base64.b64encode(payload_bytes(watermark_id)).decode()}],
    }
    definition["assertions"] = [
        {"label": "c2pa.actions.v2", "data": {"actions": actions}},
        {"label": "c2pa.soft-binding", "data": soft_binding},
    ]
    return definition


HELD_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, then deliver the first that came (through the handler
    that was in place). c2pa reads and writes the file through Python callbacks, and an exception raised inside a
    ctypes callback is printed and dropped: an interrupt during signing would be lost, or turned into a signing
    error. Signing takes a fraction of a second. Outside the main thread (where Python delivers no signals) it
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for name in HELD_SIGNALS:
        if (number := getattr(signal, name, None)) is not None:
            previous[number] = signal.signal(number, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            handler = previous[received[0]]
            if callable(handler):
                handler(received[0], None)
            elif received[0] == signal.SIGINT:
                raise KeyboardInterrupt


def _reason(exc: BaseException) -> str:
    """c2pa's message on one line (it spreads validation failures over several)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


class ContentSigner:
    """Signs finished outputs with ``credentials``. Holds only the credentials (it pickles to batch workers);
    each signature makes its own c2pa signer, so threads and processes share nothing native."""

    def __init__(self, credentials: SigningCredentials) -> None:
        self.credentials = credentials

    def _sign_stream(self, definition: dict[str, object], mime: str, source: io.IOBase, dest: io.IOBase) -> None:
        import c2pa

        info = c2pa.C2paSignerInfo(self.credentials.alg, self.credentials.chain_pem, self.credentials.key_pem, None)
        with signals_held(), c2pa.Signer.from_info(info) as signer, c2pa.Context.from_dict(_SETTINGS) as context:
            builder = c2pa.Builder(definition, context=context)
            builder.sign(signer, mime, source, dest)

    def check(self) -> None:
        """Sign a small PNG in memory: InputError (one line) now, before any work, when the credentials cannot
        sign (C2PA's certificate rules: an end-entity certificate for signing, with an issuer, not expired)."""
        from PIL import Image

        png = io.BytesIO()
        Image.new("RGB", (8, 8)).save(png, format="PNG")
        png.seek(0)
        try:
            self._sign_stream(manifest_definition("check.png", 0, None), "image/png", png, io.BytesIO())
        except Exception as exc:  # c2pa's errors are not one hierarchy (C2paError, ValueError, TypeError)
            reason = _reason(exc)
            if "certificate is invalid" in reason:  # c2pa does not say which of its profile rules failed
                reason += f" ({_CERTIFICATE_RULES})"
            raise InputError(f"cannot sign with {self.credentials.origin}: {reason}") from exc

    def sign(self, path: Path, title: str, watermark_id: int, ingredient: Ingredient | None) -> None:
        """Embed a signed manifest (see :func:`manifest_definition`) in the file at ``path``, rewriting it in
        place through a sibling temporary file; OutputError (one line) when signing fails, ``path`` untouched."""
        mime = SIGNABLE.get(Path(title).suffix.lower())
        if mime is None:
            raise OutputError(f"cannot sign {title}: Content Credentials cannot be embedded in this format")
        fd, name = tempfile.mkstemp(prefix=".signing.", suffix=Path(title).suffix, dir=path.parent)
        signed = Path(name)
        try:
            with open(path, "rb") as source, os.fdopen(fd, "w+b") as dest:
                self._sign_stream(manifest_definition(title, watermark_id, ingredient), mime, source, dest)
            os.chmod(signed, os.stat(path).st_mode & 0o777)
            os.replace(signed, path)
        except OSError:
            raise  # the disk's problem (full, read-only): TempOutput words it for the user's output path
        except Exception as exc:  # c2pa's own: the file or the signature
            raise OutputError(f"cannot sign {title} with Content Credentials: {_reason(exc)}") from exc
        finally:
            signed.unlink(missing_ok=True)

    def finisher(self, output: Path, watermark_id: int, source: Path | None) -> Callable[[Path], None]:
        """The ``finish`` hook for a writer of ``output`` (see :class:`~realtime.io.files.TempOutput`): signs the
        complete temporary file as ``output``'s name, with ``source`` (hashed now) as its ingredient."""
        ingredient = Ingredient.of(source) if source is not None else None
        return lambda path: self.sign(path, output.name, watermark_id, ingredient)
