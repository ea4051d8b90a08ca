"""Channel coding of the payload: a rate-1/2 convolutional code (constraint length 7, the (171, 133) octal pair
used by NASA, 802.11 and DVB) with a zero tail, decoded from soft cell votes by the Viterbi algorithm.

Spreading each payload bit over a couple of cells (repetition) gains nothing over a single cell per bit once the
same cells are counted; this code, decoded from soft votes, needs about half the signal-to-noise ratio per cell for
the same error rate (a coding gain of ~3 dB at the error rates a 64-bit payload needs), which is what lets a
640x360 output's 144 cells carry 64 bits through a half-size crf 28 copy or a contrast boost that clips cells.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from realtime.watermark.payload import MARKER_BITS, PAYLOAD_BITS, encode_payload

__all__ = [
    "CODED_BITS",
    "KNOWN_CODED_BITS",
    "KNOWN_SIGNS",
    "conv_encode",
    "known_agreement",
    "viterbi_decode",
]

CONSTRAINT = 7
GENERATORS = (0o171, 0o133)
TAIL = CONSTRAINT - 1
STATES = 2**TAIL
CODED_BITS = len(GENERATORS) * (PAYLOAD_BITS + TAIL)  # 140
# the coded bits fixed by the 24-bit marker alone (the encoder starts at state 0): what the detector's confidence
# and the crop search's first ranking read, as the marker's own bits did before the payload was coded
KNOWN_CODED_BITS = len(GENERATORS) * MARKER_BITS


def _parity(x: np.ndarray) -> np.ndarray:
    return np.array([bin(int(v)).count("1") & 1 for v in np.ravel(x)], dtype=np.int8).reshape(np.shape(x))


@lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """(predecessors int64 [STATES, 2], branch signs float32 [STATES, 2, 2]): the two states each state is reached
    from (the newest input bit is the state's lowest bit), and the +-1 signs of the two coded bits on each of those
    branches (+1 for a 0, the votes' sign convention)."""
    state = np.arange(STATES)
    predecessors = np.stack([state >> 1, (state >> 1) | (STATES >> 1)], axis=1)
    register = (predecessors << 1) | (state[:, None] & 1)  # 7 bits: the predecessor's six and the new input bit
    signs = np.stack([1.0 - 2.0 * _parity(register & g) for g in GENERATORS], axis=-1)
    return predecessors, signs.astype(np.float32)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """The coded bits (bool [CODED_BITS]) of payload bits (bool [64]) followed by a six-bit zero tail: two per
    input bit, in input order."""
    register, registers = 0, []
    for bit in np.concatenate([np.asarray(bits, dtype=bool), np.zeros(TAIL, dtype=bool)]):
        register = ((register << 1) | int(bit)) & (2**CONSTRAINT - 1)
        registers.append(register)
    return np.stack([_parity(np.array(registers) & g) for g in GENERATORS], axis=1).ravel().astype(bool)


def viterbi_decode(soft: np.ndarray) -> np.ndarray:
    """The most likely payload bits (bool [..., 64]) for soft coded-bit readings [..., CODED_BITS] (positive: a 0,
    weighted by how sure; 0: nothing read). Any leading batch shape is decoded at once; the path starts and ends in
    state 0 (the zero tail)."""
    soft = np.asarray(soft, dtype=np.float32)
    batch = soft.shape[:-1]
    steps = PAYLOAD_BITS + TAIL
    soft = soft.reshape(-1, steps, len(GENERATORS))
    predecessors, signs = _trellis()
    branches = np.einsum("btk,spk->tpbs", soft, signs)  # [step, which predecessor, batch, state]
    metric = np.full((soft.shape[0], STATES), -np.inf, np.float32)
    metric[:, 0] = 0.0
    took_second = np.empty((steps, soft.shape[0], STATES), dtype=bool)
    for t in range(steps):
        first = metric[:, predecessors[:, 0]] + branches[t, 0]
        second = metric[:, predecessors[:, 1]] + branches[t, 1]
        np.greater(second, first, out=took_second[t])
        metric = np.maximum(first, second)
    state = np.zeros(soft.shape[0], dtype=np.int64)
    bits = np.empty((soft.shape[0], steps), dtype=bool)
    rows = np.arange(soft.shape[0])
    for t in range(steps - 1, -1, -1):
        bits[:, t] = state & 1
        state = predecessors[state, took_second[t, rows, state].astype(np.int64)]
    return bits[:, :PAYLOAD_BITS].reshape(*batch, PAYLOAD_BITS)


KNOWN_SIGNS = np.where(conv_encode(encode_payload(0))[:KNOWN_CODED_BITS], -1.0, 1.0)


def known_agreement(soft: np.ndarray) -> np.ndarray:
    """How well soft coded-bit readings [..., CODED_BITS] (per-bit means, positive: a 0) agree with the coded bits
    the marker fixes: [...] in [-1, 1], about 1 on a clean mark and about 0 by chance."""
    return soft[..., :KNOWN_CODED_BITS] @ KNOWN_SIGNS / KNOWN_CODED_BITS
