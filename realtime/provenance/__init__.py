"""Content Credentials (C2PA): signing every output and reading a file's manifest back.

- :mod:`~realtime.provenance.credentials`: the certificate chain and key (the user's, or a local one made once).
- :mod:`~realtime.provenance.signing`: the manifest every output gets, and :class:`ContentSigner`.
- :mod:`~realtime.provenance.reading`: :func:`read_credentials`, for ``realtime.verify``.

The invisible mark (:mod:`realtime.watermark`) and the metadata tags (:mod:`realtime.io.metadata`) are the other two
provenance signals; the manifest names the mark in its soft-binding assertion.
"""

from realtime.provenance.credentials import SigningCredentials, resolve_credentials
from realtime.provenance.reading import CredentialsReport, read_credentials
from realtime.provenance.signing import ContentSigner, check_signable

__all__ = [
    "ContentSigner",
    "CredentialsReport",
    "SigningCredentials",
    "check_signable",
    "read_credentials",
    "resolve_credentials",
]
