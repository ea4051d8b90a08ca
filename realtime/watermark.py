"""The invisible provenance mark every output carries: a 64-bit payload (a fixed 24-bit synthetic-media marker, a
32-bit user id and a CRC-8) in the luma of each frame. It survives H.264 re-encoding, downscaling, chroma
subsampling, mirroring, letterboxing and brightness/contrast changes; ``bench/watermark.py`` reports what it
survives and what it does not (a matrix of sizes, qualities and edits), its cost per frame and its PSNR.

How it works (dither modulation of cell means, one vote per cell):

- The frame is divided into a grid of cells fixed *relative to the frame* (48, 32, 24 or 16 columns by width, so
  cells are at least 40 px and still 20 px in a half-size copy; rows by aspect ratio), so a rescaled copy has the
  same grid, or one the detector also tries. Cell means pass a 5x5 cell-level high-pass, so brightness offsets and
  lighting gradients do not matter.
- Each cell is one unit: it carries one payload bit (a fixed pseudo-random layout spreads every bit over about
  the same number of cells), a chip (+1/-1) and a dither. Embedding moves each cell's reading (chip x high-passed
  mean) to the nearest point of its lattice: multiples of ``step`` for a 0, shifted by half a step for a 1, plus
  the dither. Because the target depends on where the picture already is, the picture never masks a bit (plain
  spread spectrum fails on still footage for exactly that reason). The change is a smooth field (cell amplitudes
  upsampled bicubically; a few refinement passes cancel the spill between cells), added equally to R, G and B.
- The detector reads every cell as a soft vote (+1 on a 0-lattice point, -1 on a 1-point), averages each bit's
  votes, and averages over the frames it is given (H.264 at crf 28 takes a good part of the mark; a 2-second
  window reads what single frames miss). Cells vote independently, so damage to part of the picture (saturation
  from a contrast boost, an overlay) costs only those cells' votes. It tries every grid a copy might carry,
  mirrored or not, inside letterbox bars or not, and contrast gains from 0.6 to 1.6; a reading counts only when
  the marker and the CRC check out.

Not survived: crops (the grid moves against the frame, and no search for it is made) and, on frames under ~500 px
wide, a half-size copy at crf 28. ``step`` sets both visibility (PSNR 38.4-40 dB) and robustness. The key is
public: anyone can read the mark, and a determined adversary can remove it; it is a provenance signal, not a
security feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

__all__ = [
    "MARKER",
    "PAYLOAD_BITS",
    "Detection",
    "WatermarkDetector",
    "Watermarker",
    "decode_payload",
    "embed_compat",
    "encode_payload",
    "grid_shape",
    "payload_bytes",
    "read_compat",
]

MARKER = 0x5A16C7  # 24 bits that say "synthetic media made by realtime"
MARKER_BITS, ID_BITS, CRC_BITS = 24, 32, 8
PAYLOAD_BITS = MARKER_BITS + ID_BITS + CRC_BITS
GRID_COLUMNS = (48, 32, 24, 16)  # the grids a frame may use, finest first (see grid_shape)
KEY = 0x7E57AB1E  # public carrier key
STEP = 6.5  # lattice step in grey levels of a cell reading: the mark's strength (PSNR 38.4-40 dB on package pictures)


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


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of the cell grid for a frame: cells at least 40 px wide, so that a copy at half the size still
    has cells of 20 px (H.264 at crf 28 wipes out finer patterns): 48 columns from 1920 px wide, 32 from 1280,
    24 from 960, 16 below; rows by aspect ratio (at least a quarter of the columns)."""
    cols = next(c for c, min_width in zip(GRID_COLUMNS, (1920, 1280, 960, 0), strict=True) if width >= min_width)
    return max(cols // 4, round(cols * height / width)), cols


@dataclass(frozen=True)
class _Carrier:
    """The public key's layout for one grid: each cell's chip (float32 [rows,cols] of +-1), payload bit (int64
    [rows,cols], each bit on about the same number of cells, spread pseudo-randomly) and dither (float32
    [rows,cols] in [0, 1), in steps). ``order`` (flat cell indices sorted by bit), ``starts`` and ``count`` (per
    bit) turn cell readings into per-bit means in one pass."""

    chips: np.ndarray
    bit: np.ndarray
    dither: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    count: np.ndarray

    def bit_means(self, cell_values: np.ndarray) -> np.ndarray:
        """Per-bit means [..., 64] of cell values [..., rows*cols] (flat, in grid order)."""
        return np.add.reduceat(cell_values[..., self.order], self.starts, axis=-1) / self.count


@lru_cache(maxsize=64)
def _carrier(rows: int, cols: int) -> _Carrier:
    rng = np.random.default_rng([KEY, rows, cols])
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=(rows, cols))
    bit = (rng.permutation(rows * cols) % PAYLOAD_BITS).reshape(rows, cols)
    dither = rng.random((rows, cols)).astype(np.float32)
    order = np.argsort(bit.ravel(), kind="stable")
    count = np.bincount(bit.ravel(), minlength=PAYLOAD_BITS)
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    return _Carrier(chips, bit, dither, order, starts, count.astype(np.float64))


ANALYSIS_WIDTH = 384  # at least 8 pixels per cell of the finest grid


def _luma(frame: np.ndarray) -> np.ndarray:
    """Luma (BT.601, 0-255) of an RGB uint8 frame, halved (2x2 means) while at least twice ``ANALYSIS_WIDTH`` wide:
    cell means barely change, and halving is ~30x cheaper than an area resize by an arbitrary factor.
    float32 [h, w]."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    while grey.shape[1] >= 2 * ANALYSIS_WIDTH:
        h, w = grey.shape
        grey = cv2.resize(grey[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32)


def _cells(luma: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of each grid cell: float32 [rows, cols]."""
    return cv2.resize(luma, (cols, rows), interpolation=cv2.INTER_AREA)


def _highpass(cells: np.ndarray) -> np.ndarray:
    """Cells minus their 5x5 neighbourhood mean: removes brightness offsets and smooth gradients (lighting), keeps
    most of each cell's own value (a 3x3 mean would take a ninth of it, and more of the upsampling's spill)."""
    return cells - cv2.blur(cells, (5, 5), borderType=cv2.BORDER_REFLECT_101)


def _units(hp: np.ndarray, carrier: _Carrier) -> np.ndarray:
    """Each cell's reading: chip x high-passed cell mean, float32 [rows, cols] (grey levels)."""
    return carrier.chips * hp


def _field(pattern: np.ndarray, height: int, width: int) -> np.ndarray:
    """The per-pixel offsets float32 [height, width] for per-cell amplitudes [rows, cols]: a bicubic upsampling,
    round soft blobs without edges. Against a bilinear one the cell means (what the detector reads) keep 69% of an
    amplitude instead of 52% (after the high-pass), so the same mark costs 40% less squared error; flat-topped
    cells would keep 73% but show as a grid of squares on a plain wall."""
    return cv2.resize(pattern, (width, height), interpolation=cv2.INTER_CUBIC)


@lru_cache(maxsize=16)
def _response(height: int, width: int) -> np.ndarray:
    """float32 [5,5]: what the detector's cell means see of a unit amplitude in one cell after the bilinear upsample
    to this frame size (the cell keeps most, its neighbours get the rest)."""
    rows, cols = grid_shape(height, width)
    impulse = np.zeros((rows, cols), np.float32)
    impulse[rows // 2, cols // 2] = 64.0
    field = _field(impulse, height, width)
    seen = cv2.resize(field, (cols, rows), interpolation=cv2.INTER_AREA) / 64.0
    return np.ascontiguousarray(seen[rows // 2 - 2 : rows // 2 + 3, cols // 2 - 2 : cols // 2 + 3])


# +1 where the marker has a 0 bit (read as a positive soft decision), -1 where it has a 1
_MARKER_BITS = encode_payload(0)[:MARKER_BITS]
_MARKER_SIGNS = np.where(_MARKER_BITS, -1.0, 1.0)


class Watermarker:
    """Embeds the payload for ``user_id`` into RGB uint8 frames.

    Each cell's reading (see the module notes) is moved to the nearest point of its bit's lattice: multiples of
    ``step`` grey levels for a 0, offset by half a step for a 1, plus the cell's dither (dither modulation). The
    picture itself therefore never masks a bit, whatever it shows; a vote survives up to a quarter step of noise.

    Args:
        user_id: 32-bit number carried with the marker (e.g. ``--watermark-id``).
        step: lattice step in grey levels of a cell reading; a cell's amplitude is at most about
            ``step / 2 / 0.69``.
        refinements: extra passes that cancel the leakage between neighbouring cells. One takes a cell's reading
            error from 0.13 to 0.09 of a step; a second gains little more and costs up to 1.6 dB of PSNR, as it
            pumps smooth amplitude the high-pass cannot see.
    """

    def __init__(self, user_id: int = 0, step: float = STEP, refinements: int = 1) -> None:
        self.user_id = user_id
        self.bits = encode_payload(user_id)
        self.step, self.refinements = step, refinements
        self._last: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None  # grid, host projections, lattice

    def pattern(self, frame: np.ndarray) -> np.ndarray:
        """The per-cell amplitudes (float32 [rows, cols], grey levels) this frame gets.

        Each cell's reading goes to the nearest point of its lattice, except that on a still picture (a reading
        within a twentieth of a step of the previous frame's) it stays on the previous frame's point while that is
        within 0.55 of a step: a reading near the middle between two points would otherwise jump between them with
        sensor noise, and the mark would flicker by a whole step in that cell. The band is kept that narrow because
        the distance from the picture to its point is what re-encoding eats into."""
        h, w = frame.shape[:2]
        rows, cols = grid_shape(h, w)
        carrier = _carrier(rows, cols)
        host = _units(_highpass(_cells(_luma(frame), rows, cols)), carrier)
        offset = (carrier.dither + 0.5 * self.bits[carrier.bit]) * self.step
        lattice = np.round((host - offset) / self.step)  # nearest point of each cell's lattice
        if self._last is not None and self._last[0] == (rows, cols):
            _, last_host, last_lattice = self._last
            stay = (np.abs(host - last_host) < 0.05 * self.step) & (
                np.abs(host - offset - last_lattice * self.step) <= 0.55 * self.step
            )
            lattice = np.where(stay, last_lattice, lattice)
        self._last = ((rows, cols), host, lattice)
        target = offset + lattice * self.step
        kernel = _response(h, w)
        gain = float(kernel[2, 2] - kernel.sum() / 25.0)  # own-cell response after the high-pass
        pattern = carrier.chips * (target - host) / gain
        for _ in range(self.refinements):  # cancel what each cell's change spills into its neighbours' readings
            seen = _units(_highpass(cv2.filter2D(pattern, -1, kernel, borderType=cv2.BORDER_REFLECT_101)), carrier)
            pattern = pattern + carrier.chips * (target - host - seen) / gain
        return pattern.astype(np.float32)

    def embed(self, frame: np.ndarray) -> np.ndarray:
        """A marked copy of an RGB uint8 frame [H,W,3] (H, W >= 16): the same offset is added to R, G and B."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"watermark needs an RGB uint8 frame [H,W,3], got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        field = _field(self.pattern(frame), h, w)
        raise_by = cv2.cvtColor(cv2.convertScaleAbs(cv2.max(field, 0.0)), cv2.COLOR_GRAY2RGB)
        lower_by = cv2.cvtColor(cv2.convertScaleAbs(cv2.min(field, 0.0)), cv2.COLOR_GRAY2RGB)
        out = cv2.add(frame, raise_by)
        return cv2.subtract(out, lower_by, dst=out)


@dataclass
class Detection:
    """What the detector read. ``marked`` (with ``user_id``) only when the 24-bit marker and the CRC check out: the
    decision. ``confidence``, in [0, 1], is how strongly the soft readings of the 24 marker bits agree with the
    known marker: about 1 on a cleanly marked frame, lower as re-encoding wears the mark down, and near 0 on
    unmarked content (chance agreement averages out), so it grades a decision rather than making it."""

    marked: bool
    user_id: int | None
    confidence: float
    frames: int


# contrast gains the detector tries (an editor's contrast slider scales the high-passed cells, and so every
# projection, by its gain): 1 and steps of 2.5% either side, from 0.61 to 1.64, so a projection of four steps (a
# bit with few cells on strong edges) is at most a twentieth of a step off
GAINS = tuple(float(1.025**k) for k in range(-20, 21))
BAR_MIN_FRACTION = 0.02  # bars narrower than this share of a side are not trimmed (a dark edge is not a bar)


def _bar_length(profile_mean: np.ndarray, profile_std: np.ndarray) -> int:
    """How many leading entries of a border-to-centre profile are one flat bar: the outermost line nearly uniform
    (std < 2 grey levels), and each line after it nearly the same colour (within 4) and no more than faintly
    textured (std < 8: the codec rings into a bar's last lines)."""
    if profile_std[0] >= 2.0:
        return 0
    flat = (profile_std < 8.0) & (np.abs(profile_mean - profile_mean[0]) < 4.0)
    return int(np.argmin(flat)) if not flat.all() else len(flat)


def content_box(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the picture inside letterbox or pillarbox bars (uniform lines along the edges,
    any colour) of a float32 luma [H, W]; None when there are no bars or nothing but bars."""
    h, w = luma.shape
    sides = []
    for lines in (luma, luma[::-1], luma.T, luma.T[::-1]):  # top, bottom, left, right: each line from outside in
        sides.append(_bar_length(lines.mean(axis=1), lines.std(axis=1)))
    top, bottom, left, right = (
        n if n >= BAR_MIN_FRACTION * size else 0 for n, size in zip(sides, (h, h, w, w), strict=True)
    )
    if top + bottom + left + right == 0 or h - top - bottom < h / 4 or w - left - right < w / 4:
        return None
    return top, h - bottom, left, w - right


class WatermarkDetector:
    """Accumulates soft bit decisions over frames (``add``) and reads the payload (``result``).

    The frame may have been rescaled, mirrored, letterboxed, or had its brightness or contrast changed since it was
    marked, so every reading is kept apart by the hypothesis it makes: the grid (any of :data:`GRID_COLUMNS`, at
    the rows its aspect ratio gives and one either side), mirrored or not, the picture inside bars or the whole
    frame, and the contrast gain (:data:`GAINS`). A reading counts only when its marker and CRC check out, so the
    ~2,000 hypotheses cost about 1 in 2 million false detections per file."""

    def __init__(self, step: float = STEP) -> None:
        self.step = step
        self._soft_sums: dict[tuple[object, ...], np.ndarray] = {}
        self._own: tuple[object, ...] | None = None  # the hypothesis "nothing happened to the first frame"
        self.frames = 0
        self._inverse_steps = (1.0 / (np.array(GAINS) * step))[:, None].astype(np.float32)

    def _fold(self, view: str, luma: np.ndarray, width: int) -> None:
        """Add the soft readings of one view (analysis luma of a picture ``width`` frame pixels wide) under each
        grid it may carry: grids whose cells would be under 10 px in this picture are skipped (no mark survives
        a downscale that far), and the row counts tried are the two its aspect ratio lies between."""
        h, w = luma.shape
        for cols in GRID_COLUMNS:
            if width < 10 * cols:
                continue
            exact = cols * h / w
            for r in sorted({max(cols // 4, int(np.floor(exact))), max(cols // 4, int(np.ceil(exact)))}):
                cells = _cells(luma, r, cols)
                carrier = _carrier(r, cols)
                for mirrored in (False, True):
                    units = _units(_highpass(cells[:, ::-1] if mirrored else cells), carrier).ravel()
                    phase = units[None, :] * self._inverse_steps - carrier.dither.ravel()[None, :]
                    soft = carrier.bit_means(np.cos(2 * np.pi * phase))  # [gains, 64]: each bit's cells, averaged
                    key = (view, r, cols, mirrored)
                    self._soft_sums[key] = self._soft_sums.get(key, 0.0) + soft

    def add(self, frame: np.ndarray) -> None:
        """Fold in one RGB uint8 frame [H,W,3] under every hypothesis (see the class)."""
        h, w = frame.shape[:2]
        if self._own is None:
            self._own = ("frame", *grid_shape(h, w), False)
        luma = _luma(frame)
        self._fold("frame", luma, w)
        box = content_box(luma)
        if box is not None:
            top, bottom, left, right = box
            self._fold("inside bars", luma[top:bottom, left:right], w * (right - left) // luma.shape[1])
        self.frames += 1

    def result(self) -> Detection:
        """Marked when some hypothesis decodes a valid payload (the best such reading); otherwise the reading of
        the unchanged frame (its own grid, gain 1), so an unmarked file's confidence is one chance agreement, not
        the best of the many hypotheses tried (a maximum over chance readings would sit well above zero)."""
        best: Detection | None = None
        unity = GAINS.index(1.0)
        own = Detection(False, None, 0.0, self.frames)
        for key, soft_sum in self._soft_sums.items():
            soft = soft_sum / max(self.frames, 1)  # [gains, 64]
            agreement = soft[:, :MARKER_BITS] @ _MARKER_SIGNS / MARKER_BITS
            if key == self._own:
                own = Detection(False, None, max(0.0, float(agreement[unity])), self.frames)
            for g in np.flatnonzero(agreement > 0):  # each gain whose marker reading is better than chance
                user_id = _decode_soft(soft[g], chase=agreement[g] >= CHASE_AGREEMENT)
                if user_id is not None and (best is None or agreement[g] > best.confidence):
                    best = Detection(True, user_id, float(agreement[g]), self.frames)
        return best or own


CHASE_AGREEMENT = 0.25  # marker agreement from which a failed reading is retried with its least sure bits flipped
CHASE_BITS = 6
_CHASE_FLIPS = (
    [()] + [(i,) for i in range(CHASE_BITS)] + [(i, j) for i in range(CHASE_BITS) for j in range(i + 1, CHASE_BITS)]
)


def _decode_soft(soft: np.ndarray, chase: bool) -> int | None:
    """The user id in soft bit readings [64] (negative: a 1), or None. With ``chase``, readings that fail are
    retried with one or two of the six least sure bits flipped (Chase decoding): one nearly even vote can no longer
    sink a clearly marked file. Each retry is one more chance for a false match (22 tries per reading, 32 check
    bits: about 5 in a billion per reading)."""
    hard = soft < 0
    if np.count_nonzero(hard[:MARKER_BITS] != _MARKER_BITS) > (2 if chase else 0):
        return None  # no retry could mend the marker: the usual case on unmarked content, so it is answered fast
    weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
    for flips in _CHASE_FLIPS if chase else _CHASE_FLIPS[:1]:
        trial = hard.copy()
        trial[weakest[list(flips)]] ^= True
        user_id = decode_payload(trial)
        if user_id is not None:
            return user_id
    return None


# invisible-watermark's dwtDctSvd mark, for still images: readable by its own WatermarkDecoder("bytes", 64)
COMPAT_METHOD = "dwtDctSvd"  # its dwtDct variant misreads 2-14 of 64 bits on package images even before saving
COMPAT_MIN_SIDE = 256  # invisible-watermark needs at least this many pixels on each side


def embed_compat(image: np.ndarray, user_id: int = 0) -> np.ndarray:
    """The payload for ``user_id`` added with invisible-watermark's dwtDctSvd to an RGB uint8 image (sides >= 256;
    ValueError otherwise). Apply after :meth:`Watermarker.embed`: dwtDctSvd changes fine detail the robust mark
    ignores, the reverse is not true."""
    from imwatermark import WatermarkEncoder

    if min(image.shape[:2]) < COMPAT_MIN_SIDE:
        raise ValueError(
            f"invisible-watermark needs an image of at least {COMPAT_MIN_SIDE}x{COMPAT_MIN_SIDE}, got {image.shape}"
        )
    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", payload_bytes(user_id))
    return cv2.cvtColor(encoder.encode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), COMPAT_METHOD), cv2.COLOR_BGR2RGB)


def read_compat(image: np.ndarray) -> int | None:
    """The user id in an image's dwtDctSvd mark (RGB uint8), or None when there is no valid one."""
    from imwatermark import WatermarkDecoder

    if min(image.shape[:2]) < COMPAT_MIN_SIDE:
        return None
    raw = WatermarkDecoder("bytes", PAYLOAD_BITS).decode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), COMPAT_METHOD)
    return decode_payload(np.unpackbits(np.frombuffer(bytes(raw), np.uint8)).astype(bool))


def payload_bytes(user_id: int) -> bytes:
    """The 64 payload bits for ``user_id`` as 8 bytes (most significant first)."""
    return np.packbits(encode_payload(user_id)).tobytes()
