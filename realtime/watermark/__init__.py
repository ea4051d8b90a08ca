"""The invisible provenance mark every output carries: a 64-bit payload (a fixed 24-bit synthetic-media marker, a
32-bit user id and a CRC-8) in the luma of each frame. It survives H.264 re-encoding, downscaling, chroma
subsampling, mirroring, letterboxing, brightness/contrast changes and (from 720p) crops; ``bench/watermark.py``
reports what it survives and what it does not (a matrix of sizes, qualities and edits), its cost and its PSNR.

Modules: ``payload`` (the 64 bits), ``grid`` (cells, the public layout, readings), ``embed`` (:class:`Watermarker`),
``detect`` (:class:`WatermarkDetector`), ``crops`` (finding the grid of a cropped copy), ``compat``
(invisible-watermark's mark on still images).

How it works (dither modulation of cell means, one vote per cell):

- The frame is divided into a grid of cells fixed *relative to the frame* (48, 32, 24 or 16 columns by width, so
  cells are at least 40 px and still 20 px in a half-size copy; rows by aspect ratio), so a rescaled copy has the
  same grid, or one the detector also tries. Cell means pass a 5x5 cell-level high-pass, so brightness offsets and
  lighting gradients do not matter.
- Each cell is one unit: it carries one payload bit (a fixed pseudo-random layout spreads every bit over about
  the same number of cells) and a chip (+1/-1). Embedding moves each cell's reading (chip x high-passed mean) to
  the nearest point of its lattice: a quarter step plus multiples of ``step`` for a 0, shifted by half a step for
  a 1 (a flat cell, reading 0, is then exactly between the two, so plain walls vote for neither). Because the
  target depends on where the picture already is, the picture never masks a bit (plain spread spectrum fails on
  still footage for exactly that reason). The change is a smooth field (cell amplitudes
  upsampled bicubically; one refinement pass cancels most spill between cells), added equally to R, G and B.
- The detector reads every cell as a soft vote (+1 on a 0-lattice point, -1 on a 1-point), averages each bit's
  votes, and averages over the frames it is given (H.264 at crf 28 takes a good part of the mark; a 2-second
  window reads what single frames miss). Cells vote independently, so damage to part of the picture (saturation
  from a contrast boost, an overlay) costs only those cells' votes. It tries every grid a copy might carry,
  mirrored or not, inside letterbox bars or not, and contrast gains from 0.6 to 1.6; a reading counts only when
  the marker and the CRC check out. When none does, it searches for the grid of a cropped copy: every marked cell
  reads on the same half-step lattice, so the grid's pitch and phase can be found before knowing which cell is
  which (``crops``).

Not survived: crops of 360p outputs (too few whole 40 px cells remain), and on frames under ~500 px wide a
half-size copy at crf 28, a -25 brightness or a x1.3 contrast (too many cells clip). ``step`` sets both visibility
(PSNR 38-40.5 dB) and robustness. The key is
public: anyone can read the mark, and a determined adversary can remove it; it is a provenance signal, not a
security feature.
"""

from realtime.watermark.compat import COMPAT_MIN_SIDE, embed_compat, read_compat
from realtime.watermark.detect import GAINS, Detection, WatermarkDetector, content_box
from realtime.watermark.embed import Watermarker
from realtime.watermark.grid import GRID_COLUMNS, STEP, grid_shape
from realtime.watermark.payload import MARKER, PAYLOAD_BITS, decode_payload, encode_payload, payload_bytes

__all__ = [
    "COMPAT_MIN_SIDE",
    "GAINS",
    "GRID_COLUMNS",
    "MARKER",
    "PAYLOAD_BITS",
    "STEP",
    "Detection",
    "WatermarkDetector",
    "Watermarker",
    "content_box",
    "decode_payload",
    "embed_compat",
    "encode_payload",
    "grid_shape",
    "payload_bytes",
    "read_compat",
]
