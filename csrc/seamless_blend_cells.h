#pragma once
// The seamless blend's V-cycle (seamless_blend.h) cell by cell, written once for every device: smoothing,
// residual, restriction and prolongation of one cell of a LevelView. The CUDA kernels of the fine levels call
// these for each cell, and vcycle_tail chains them into the coarse end of a V-cycle: once a level has at most
// kTailCells cells, it and every level below it run as one loop nest, phase by phase, on CUDA in one kernel of one
// block with a barrier between phases (instead of about a hundred launches of kernels with a handful of cells
// each), on the CPU on one thread (the grids are tiny). So the CPU tests check the per-cell arithmetic the CUDA
// kernels run, and the tail's phase order.
#include <cstdint>

#if defined(__CUDACC__)
#define REALTIME_HOST_DEVICE __host__ __device__
#else
#define REALTIME_HOST_DEVICE
#endif

namespace realtime {

constexpr int64_t kTailCells = 4096;  // a level of at most this many cells (h * w) starts the tail
constexpr int kMaxTailLevels = 16;    // 4096 cells halve to the coarsest 4x4 grid in far fewer levels
constexpr int kSmoothSweeps = 2;      // red-black sweeps before and after the coarse correction
constexpr int kCoarseSweeps = 16;     // symmetric sweep pairs on the coarsest grid

// One level as raw pointers: its geometry and stencil (shared by the channels) and its grids ([C, h, w] each).
// A kernel is given only what it touches; the rest stay null.
template <typename T>
struct LevelView {
  int64_t h = 0, w = 0;
  const T* deg = nullptr;
  const T* inv_deg = nullptr;
  const T* mask = nullptr;
  const T* sel[2] = {nullptr, nullptr};  // unknown cells of each colour, as 0/1
  T* b = nullptr;  // right-hand side: given for the first level, restricted into by the level above for the others
  T* x = nullptr;  // solution (the first level's is the caller's output)
  T* r = nullptr;  // residual (unused on the last level)
};

template <typename T>
struct TailLevels {
  LevelView<T> level[kMaxTailLevels];
  int count = 0;
  int64_t channels = 0;
};

// Sum of the 4 neighbours of (y, x) in a [h, w] plane; cells outside the grid count as 0.
template <typename T>
REALTIME_HOST_DEVICE inline T neighbour_sum_at(const T* plane, int64_t y, int64_t x, int64_t h, int64_t w) {
  T s = 0;
  if (x > 0) s += plane[y * w + x - 1];
  if (x + 1 < w) s += plane[y * w + x + 1];
  if (y > 0) s += plane[(y - 1) * w + x];
  if (y + 1 < h) s += plane[(y + 1) * w + x];
  return s;
}

// Gauss-Seidel update of cell `cell` (y * w + x) of channel c when it is an unknown of this colour. A half-sweep
// reads only the other colour, so the cells of one colour may update in any order.
template <typename T>
REALTIME_HOST_DEVICE inline void smooth_cell(const LevelView<T>& L, int64_t c, int64_t cell, int colour) {
  if (L.sel[colour][cell] == T(0)) return;
  T* plane = L.x + c * L.h * L.w;
  const T neighbours = neighbour_sum_at(plane, cell / L.w, cell % L.w, L.h, L.w);
  plane[cell] = (L.b[c * L.h * L.w + cell] + neighbours) * L.inv_deg[cell];
}

// smooth_cell for cell i of the flat [C, h, w] grid; cells of the other colour are skipped without a read.
template <typename T>
REALTIME_HOST_DEVICE inline void smooth_at(const LevelView<T>& L, int64_t i, int colour) {
  const int64_t cell = i % (L.h * L.w);
  if (((cell / L.w + cell % L.w) & 1) == colour) smooth_cell(L, i / (L.h * L.w), cell, colour);
}

template <typename T>
REALTIME_HOST_DEVICE inline void residual_at(const LevelView<T>& L, int64_t i) {
  const int64_t cell = i % (L.h * L.w);
  const T* plane = L.x + (i - cell);
  const T neighbours = neighbour_sum_at(plane, cell / L.w, cell % L.w, L.h, L.w);
  L.r[i] = L.mask[cell] * (L.b[i] - L.deg[cell] * L.x[i] + neighbours);
}

// Coarse cell i (flat over [C, ch, cw]) gets the sum of its (up to four) fine children's residuals.
template <typename T>
REALTIME_HOST_DEVICE inline void restrict_at(const LevelView<T>& fine, const LevelView<T>& coarse, int64_t i) {
  const int64_t c = i / (coarse.h * coarse.w), y = (i / coarse.w) % coarse.h, x = i % coarse.w;
  const T* plane = fine.r + c * fine.h * fine.w;
  T s = 0;
  for (int64_t dy = 0; dy < 2; ++dy)
    for (int64_t dx = 0; dx < 2; ++dx)
      if (2 * y + dy < fine.h && 2 * x + dx < fine.w) s += plane[(2 * y + dy) * fine.w + 2 * x + dx];
  coarse.b[i] = s;
}

// Fine cell i adds its coarse parent's correction when it is an unknown.
template <typename T>
REALTIME_HOST_DEVICE inline void prolong_at(const LevelView<T>& coarse, const LevelView<T>& fine, int64_t i) {
  const int64_t c = i / (fine.h * fine.w), y = (i / fine.w) % fine.h, x = i % fine.w;
  fine.x[i] += fine.mask[y * fine.w + x] * coarse.x[(c * coarse.h + y / 2) * coarse.w + x / 2];
}

// The V-cycle from the tail's first level down, as seamless_blend.h's vcycle does it level by level. `phase(n, fn)`
// must call fn(i) for every i in [0, n) and return once all those calls are done (a barrier on CUDA).
template <typename T, class Phase>
REALTIME_HOST_DEVICE void vcycle_tail(const TailLevels<T>& t, const Phase& phase) {
  const int down[2] = {0, 1}, up[2] = {1, 0}, coarse[4] = {0, 1, 1, 0};  // colour orders, as vcycle's
  const int last = t.count - 1;
  for (int d = 0; d <= last; ++d) {
    const LevelView<T>& L = t.level[d];
    const int64_t n = t.channels * L.h * L.w;
    phase(n, [&](int64_t i) { L.x[i] = 0; });
    if (d == last) {
      for (int s = 0; s < kCoarseSweeps; ++s)
        for (int colour : coarse) phase(n, [&](int64_t i) { smooth_at(L, i, colour); });
      break;
    }
    for (int s = 0; s < kSmoothSweeps; ++s)
      for (int colour : down) phase(n, [&](int64_t i) { smooth_at(L, i, colour); });
    phase(n, [&](int64_t i) { residual_at(L, i); });
    const LevelView<T>& C = t.level[d + 1];
    phase(t.channels * C.h * C.w, [&](int64_t i) { restrict_at(L, C, i); });
  }
  for (int d = last - 1; d >= 0; --d) {
    const LevelView<T>& L = t.level[d];
    const int64_t n = t.channels * L.h * L.w;
    phase(n, [&](int64_t i) { prolong_at(t.level[d + 1], L, i); });
    for (int s = 0; s < kSmoothSweeps; ++s)
      for (int colour : up) phase(n, [&](int64_t i) { smooth_at(L, i, colour); });
  }
}

}  // namespace realtime
