"""The mark's 64-bit payload: a fixed 24-bit synthetic-media marker, a 32-bit user id and a CRC-8."""

from __future__ import annotations

import numpy as np

__all__ = [
    "MARKER",
    "MARKER_BITS",
    "PAYLOAD_BITS",
    "decode_payload",
    "encode_payload",
    "payload_bytes",
]

MARKER = 0x5A16C7  # 24 bits that say "synthetic media made by realtime"
MARKER_BITS, ID_BITS, CRC_BITS = 24, 32, 8
PAYLOAD_BITS = MARKER_BITS + ID_BITS + CRC_BITS


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_payload(user_id: int = 0) -> np.ndarray:
    """The 64 payload bits (bool [64], most significant first): marker, ``user_id`` (0 <= id < 2**32), CRC-8."""
    if not 0 <= user_id < 2**ID_BITS:
        raise ValueError(f"watermark id must be in [0, 2**32), got {user_id}")
    head = (MARKER << ID_BITS) | user_id
    word = (head << CRC_BITS) | _crc8(head.to_bytes(7, "big"))
    return np.array([(word >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=bool)


def decode_payload(bits: np.ndarray) -> int | None:
    """The user id in 64 decoded bits, or None unless both the marker and the CRC match."""
    word = int.from_bytes(np.packbits(np.asarray(bits, dtype=bool)).tobytes(), "big")
    head, crc = word >> CRC_BITS, word & 0xFF
    if head >> ID_BITS != MARKER or _crc8(head.to_bytes(7, "big")) != crc:
        return None
    return head & (2**ID_BITS - 1)


def payload_bytes(user_id: int) -> bytes:
    """The 64 payload bits for ``user_id`` as 8 bytes (most significant first)."""
    return np.packbits(encode_payload(user_id)).tobytes()
