"""Reading a file's Content Credentials back: is there a manifest, is it intact, who signed it, what does it say."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.provenance.credentials import LOCAL_ISSUER
from realtime.provenance.signing import SIGNABLE, SOFT_BINDING_ALG
from realtime.watermark import decode_payload

__all__ = ["CredentialsReport", "read_credentials"]

_SYNTHETIC_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic")


@dataclass
class CredentialsReport:
    """A file's C2PA manifest as a reader sees it.

    ``state``: "valid" (signature and hard binding check out), "invalid" (present but broken: the file was changed
    after signing, or the signature is bad; ``problem`` says which check failed) or "absent". ``signer``: the
    signing certificate's organisation and name; ``local``: signed by the local certificate realtime makes (valid,
    but no trust list knows it); ``trusted``: the signer is on a configured trust list. ``digital_source_type``:
    the IPTC term of the edit action; ``watermark_id``: the id the soft-binding assertion names for the mark."""

    state: str
    signer: str | None = None
    local: bool = False
    trusted: bool = False
    digital_source_type: str | None = None
    watermark_id: int | None = None
    problem: str | None = None

    @property
    def synthetic(self) -> bool:
        """A valid manifest whose actions say the content is (partly) AI-made."""
        return self.state == "valid" and (self.digital_source_type or "").endswith(_SYNTHETIC_TYPES)

    def describe(self) -> str:
        """One phrase for ``realtime.verify``'s line."""
        if self.state == "absent":
            return "none"
        kind = (self.digital_source_type or "no digital source type").rsplit("/", 1)[-1]
        if self.state == "invalid":
            return f"invalid ({self.problem}), signed by {self.signer}"
        who = "a local, untrusted certificate" if self.local else self.signer
        trust = "" if self.local or self.trusted else " (not on a trust list)"
        return f"valid, {kind}, signed by {who}{trust}"


def _edit_source_type(manifest: dict) -> str | None:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("digitalSourceType"):
                    return str(action["digitalSourceType"])
    return None


def _soft_binding_id(manifest: dict) -> int | None:
    for assertion in manifest.get("assertions", []):
        data = assertion.get("data", {})
        if assertion.get("label", "").startswith("c2pa.soft-binding") and data.get("alg") == SOFT_BINDING_ALG:
            for block in data.get("blocks", []):
                raw = base64.b64decode(block.get("value", ""))
                if len(raw) == 8:
                    return decode_payload(np.unpackbits(np.frombuffer(raw, np.uint8)).astype(bool))
    return None


def _first_failure(results: dict | None) -> str | None:
    """The check that made a manifest invalid (an untrusted signer alone does not: it is listed for every
    signature no trust list knows, valid ones too)."""
    failures = ((results or {}).get("activeManifest") or {}).get("failure") or []
    failures = [f for f in failures if f.get("code") != "signingCredential.untrusted"] or failures
    if not failures:
        return None
    return f"{failures[0].get('code')}: {failures[0].get('explanation', '')}".rstrip(": ")


def read_credentials(path: Path) -> CredentialsReport:
    """The manifest in the file at ``path``, read and validated by ``c2pa-python``'s Reader; "absent" when the
    format cannot carry one or there is none. Raises OSError for an unreadable file."""
    import c2pa

    if path.suffix.lower() not in SIGNABLE:
        return CredentialsReport("absent")
    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError as exc:  # JUMBF present but unparseable: a damaged manifest
        return CredentialsReport("invalid", problem=str(exc).splitlines()[0] if str(exc) else "unreadable manifest")
    if reader is None:
        return CredentialsReport("absent")
    with reader:
        manifest = reader.get_active_manifest() or {}
        state = (reader.get_validation_state() or "").lower()
        results = reader.get_validation_results()
    signature = manifest.get("signature_info") or {}
    issuer, name = signature.get("issuer"), signature.get("common_name")
    return CredentialsReport(
        state="valid" if state in ("valid", "trusted") else "invalid",
        signer=" / ".join(str(v) for v in (issuer, name) if v) or None,
        local=issuer == LOCAL_ISSUER,
        trusted=state == "trusted",
        digital_source_type=_edit_source_type(manifest),
        watermark_id=_soft_binding_id(manifest),
        problem=_first_failure(results) if state not in ("valid", "trusted") else None,
    )
