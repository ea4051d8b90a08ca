"""The invisible provenance mark every output carries: a 64-bit payload (a fixed 24-bit synthetic-media marker, a
32-bit user id and a CRC-8), convolutionally coded, in the luma of each frame. It survives H.264 re-encoding,
downscaling, chroma subsampling, mirroring, letterboxing, brightness/contrast changes and crops;
``bench/watermark.py`` reports what it survives and what it does not (a matrix of sizes, qualities and edits), its
cost and its PSNR.

Modules: ``payload`` (the 64 bits), ``coding`` (the rate-1/2 convolutional code and its Viterbi decoder), ``grid``
(cells, the public layout, readings), ``embed`` (:class:`Watermarker`), ``detect`` (:class:`WatermarkDetector`),
``crops`` (finding the grid of a cropped copy), ``compat`` (invisible-watermark's mark on still images).

How it works (dither modulation of cell means, one coded bit per cell):

- The frame is divided into a grid of cells fixed *relative to the frame* (48, 32 or 16 columns by width: square
  cells of 40 px at 1080p and 720p and 20 px at 640x360; rows by aspect ratio), so a rescaled copy has the same
  grid, or one the detector also tries. Cell means pass a 5x5 cell-level high-pass, so brightness offsets and
  lighting gradients do not matter.
- The payload and a six-bit zero tail are coded at rate 1/2 (constraint length 7) into 140 coded bits. Each cell
  carries one coded bit and a chip (+1/-1) from a fixed pseudo-random layout (every run of 140 cells carries each
  coded bit once). Embedding moves each cell's reading (chip x high-passed mean) to the nearest point of its
  lattice: a quarter step plus multiples of ``step`` for a 0, shifted by half a step for a 1 (a flat cell,
  reading 0, is then exactly between the two, so plain walls vote for neither). Because the target depends on
  where the picture already is, the picture never masks a bit (plain spread spectrum fails on still footage for
  exactly that reason). The change is a smooth field (cell amplitudes upsampled bicubically; one refinement pass
  cancels most spill between cells), added equally to R, G and B.
- The detector reads every cell as a soft vote (+1 on a 0-lattice point, -1 on a 1-point), sums each coded bit's
  votes, and averages over the frames it is given (H.264 at crf 28 takes a good part of the mark; a 2-second
  window reads what single frames miss); the Viterbi decoder turns the 140 soft sums into the 64 payload bits,
  which corrects far more wrong or unreadable cells than repeating each bit would. Cells vote independently, so
  damage to part of the picture (saturation from a contrast boost, an overlay) costs only those cells' votes. It
  tries every grid a copy might carry, mirrored or not, inside letterbox bars or not, and contrast gains from 0.6
  to 1.6; a reading counts only when the marker and the CRC check out. When none does, it searches for the grid
  of a cropped copy, using the coded bits the marker fixes as a template (``crops``).

Not survived (``bench/watermark.py`` measures the edge): a half-size copy of a 640x360 output at crf 30 or
worse, crops of more than 10% a side, a crop combined with a contrast change, and crops of frames much wider
than 16:9 (their cells are not square). ``step`` sets both visibility (PSNR 38.5-40 dB) and robustness. The key is
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
