"""Streamed HTTP(S) download into a partial file: resumed with a Range request, retried with backoff.

Only :func:`download` is public; the model store (:mod:`realtime.models.store`) decides where the partial file
lives, checks the hash and moves the finished file into place.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from realtime.errors import InputError

__all__ = ["DownloadFailed", "download"]

CHUNK = 1 << 18  # progress updates every 256 KiB
USER_AGENT = "realtime-faceswap model store"


class DownloadFailed(InputError):
    """The server could not be reached or kept failing; ``offline`` when it was never reached at all."""

    def __init__(self, message: str, offline: bool) -> None:
        super().__init__(message)
        self.offline = offline


class _Incomplete(Exception):
    """The connection ended before the announced length arrived (retryable, and resumable)."""


def _fetch_once(url: str, partial: Path, timeout: float, progress: Callable[[int, int | None], None]) -> None:
    """Append the rest of ``url`` to ``partial`` (from its current size, with a Range request)."""
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # nothing left to send: the partial file is already whole
            return
        raise
    with response:
        if start and response.status != 206:  # the server ignored the Range: start again
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        progress(start, total)
        done = start
        with open(partial, "ab" if start else "wb") as out:
            while True:
                try:
                    block = response.read(CHUNK)
                except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                    raise _Incomplete(str(exc) or type(exc).__name__) from exc
                if not block:
                    break
                out.write(block)
                done += len(block)
                progress(done, total)
        if total is not None and done < total:
            raise _Incomplete(f"connection closed after {done} of {total} bytes")


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 425, 429) or exc.code >= 500
    return isinstance(exc, (urllib.error.URLError, _Incomplete, ConnectionError, TimeoutError))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def download(
    url: str,
    partial: Path,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 1.0,
    progress: Callable[[int, int | None], None] = lambda done, total: None,
) -> None:
    """Download ``url`` into ``partial``, continuing from whatever ``partial`` already holds.

    Args:
        timeout: seconds a connection or a read may stall before the attempt fails.
        retries: further attempts after a failure that may pass (connection errors, timeouts, a dropped
            connection, HTTP 408/429/5xx); each resumes where the last stopped. Attempt k waits
            ``backoff * 2**k`` seconds first.
        progress: called with (bytes so far, total bytes or None).

    Raises:
        DownloadFailed: when every attempt failed (``offline`` when no attempt reached the server) or the server
            refused the file (HTTP 4xx).
    """
    reached = False
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _fetch_once(url, partial, timeout, progress)
            return
        except Exception as exc:
            reached = reached or isinstance(exc, (_Incomplete, urllib.error.HTTPError))
            if not _retryable(exc) or attempt == retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise DownloadFailed(f"{_reason(exc)} ({url}){tries}", offline=not reached) from exc
