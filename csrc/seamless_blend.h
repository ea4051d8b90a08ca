#pragma once
// realtime::seamless_blend, written once for every device: multigrid-preconditioned conjugate gradient on the
// masked 4-neighbour Poisson problem, confined to the mask's bounding box plus one pixel. The algorithm is
// specified by the PyTorch reference in realtime/ops/seamless_blend.py; the per-cell work is done by `Kernels`
// (cpu/seamless_blend.cpp, cuda/seamless_blend.cu).
//
// Unknowns are the correction u = f - src on Ω (harmonic, with u = dst - src on Ω's boundary). Grids are
// contiguous [C, h, w] tensors of the accumulation type; u is kept at exactly 0 off Ω.
#include <ATen/ATen.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "checks.h"
#include "seamless_blend_cells.h"

namespace realtime {

struct BlendLevel {
  int64_t h = 0, w = 0;
  at::Tensor present;  // uint8 [h, w]: inside the frame (counts in a neighbour's diagonal)
  at::Tensor unknown;  // uint8 [h, w]: inside Ω (solved for)
  at::Tensor deg;      // acc [h, w]: number of present 4-neighbours on unknown cells, 1 elsewhere
  at::Tensor inv_deg;  // acc [h, w]: 1 / deg
  at::Tensor mask;     // acc [h, w]: unknown as 0/1
  at::Tensor colour_mask[2];  // acc [h, w]: unknown cells with (y + x) % 2 == colour, as 0/1
};

// The conjugate-gradient scalars of every channel live in a double [kScalarRows, C] tensor on the grids' device,
// so the solve never waits for the host: kernels read alpha and beta from it, reductions accumulate into it, and
// the host looks only at the `active` row, every K::kCheckEvery iterations.
enum ScalarRow : int64_t { kRz = 0, kPap, kRr, kRzNew, kBeta, kActive, kIters, kRel, kBnorm, kScalarRows };
// What a scalar step does per channel (scalar_step below).
enum ScalarStep : int { kStart = 0, kAfterUpdate, kAfterPrecondition };

// The CG step of channel c: alpha = r.z / p.Ap, 0 once the channel has converged.
REALTIME_HOST_DEVICE inline double cg_alpha(const double* s, int64_t channels, int64_t c) {
  const double pap = s[kPap * channels + c];
  return s[kActive * channels + c] != 0 && pap > 0 ? s[kRz * channels + c] / pap : 0.0;
}

// The bookkeeping between kernels, for channel c. A row that reductions accumulate into (b.b and r.r in kRr,
// p.Ap in kPap, the new r.z in kRzNew) is zeroed by the step that consumes it, ready for the next sum.
//   kStart:             b.b (in kRr) gives |b|; a channel with b = 0 has nothing to solve
//   kAfterUpdate:       one more iteration; relative residual |r| / |b|; still active while above rtol
//   kAfterPrecondition: beta = new r.z / r.z (0 once converged), then r.z = new r.z
REALTIME_HOST_DEVICE inline void scalar_step(double* s, int64_t channels, int64_t c, int step, double rtol) {
  double* row[kScalarRows];
  for (int64_t k = 0; k < kScalarRows; ++k) row[k] = s + k * channels + c;
  if (step == kStart) {
    *row[kBnorm] = sqrt(*row[kRr]);
    *row[kActive] = *row[kBnorm] > 0 ? 1.0 : 0.0;
    *row[kRel] = *row[kActive];
    *row[kIters] = 0;
    *row[kRr] = 0;
  } else if (step == kAfterUpdate) {
    if (*row[kActive] != 0) {
      *row[kIters] += 1;
      *row[kRel] = sqrt(*row[kRr]) / *row[kBnorm];
      *row[kActive] = *row[kRel] > rtol ? 1.0 : 0.0;
    }
    *row[kRr] = 0;
    *row[kPap] = 0;
  } else {
    *row[kBeta] = *row[kActive] != 0 && *row[kRz] > 0 ? *row[kRzNew] / *row[kRz] : 0.0;
    *row[kRz] = *row[kRzNew];
    *row[kRzNew] = 0;
  }
}

// Kernels must provide (x, b, r, p, z, ap: contiguous acc [C, h, w] on the level's device; s: the scalars):
//   smooth(L, x, b, colour)            red-black Gauss-Seidel half-sweep over unknown cells with (y+x)%2 == colour
//   residual(L, x, b, r)               r = b - A x on unknown cells, 0 elsewhere
//   apply_dot(L, p, ap, s)             ap = A p; s[kPap] += sum p*ap per channel
//   restrict_sum(fine_r, coarse_b)     coarse_b[Y, X] = sum of fine_r over the 2x2 children (ceil sizes)
//   prolong_add(coarse, L, fine_x)     fine_x[y, x] += coarse[y/2, x/2] on unknown cells of L
//   cg_update(x, r, p, ap, s)          x += alpha p; r -= alpha ap (alpha = cg_alpha per channel); s[kRr] += r.r
//   dot(a, b, s, row)                  s[row] += sum a*b per channel
//   direction(p, z, s)                 p = z + beta p (beta = s[kBeta] per channel)
//   scalar_step(s, step, rtol)         scalar_step above, for every channel
//   any_active(s) -> bool              whether a channel is still iterating (the one wait for the device)
//   tail(TailLevels<T>)                vcycle_tail (seamless_blend_cells.h) over the coarse levels
//   kCheckEvery                        iterations between two any_active checks
// The sums add into rows the scalar steps keep at 0 (a kernel may also assign when it computes the whole sum).
// A x = deg * x - sum of unknown 4-neighbours (off-Ω cells hold 0).

// Sum of the 4 neighbours of every cell over the last two dims; cells outside the grid count as 0.
inline at::Tensor neighbour_sum(const at::Tensor& t) {
  const at::Tensor p = at::constant_pad_nd(t, {1, 1, 1, 1}, 0);
  const int64_t h = t.size(-2), w = t.size(-1);
  return p.narrow(-2, 0, h).narrow(-1, 1, w) + p.narrow(-2, 2, h).narrow(-1, 1, w) +
         p.narrow(-2, 1, h).narrow(-1, 0, w) + p.narrow(-2, 1, h).narrow(-1, 2, w);
}

inline BlendLevel make_level(const at::Tensor& present, const at::Tensor& unknown, at::ScalarType acc) {
  BlendLevel level;
  level.h = present.size(0);
  level.w = present.size(1);
  level.present = present.contiguous();
  level.unknown = unknown.contiguous();
  level.deg = at::where(unknown.to(at::kBool), neighbour_sum(present.to(acc)).clamp_min(1), 1.0).to(acc).contiguous();
  level.inv_deg = level.deg.reciprocal().contiguous();
  level.mask = unknown.to(acc).contiguous();
  const at::Tensor ys = at::arange(level.h, unknown.options().dtype(at::kLong)).unsqueeze(1);
  const at::Tensor xs = at::arange(level.w, unknown.options().dtype(at::kLong)).unsqueeze(0);
  const at::Tensor parity = (ys + xs).remainder(2);
  for (int colour = 0; colour < 2; ++colour)
    level.colour_mask[colour] = (level.mask * parity.eq(colour).to(acc)).contiguous();
  return level;
}

inline at::Tensor pool_any(const at::Tensor& m) {
  return at::max_pool2d(m.to(at::kFloat).unsqueeze(0), {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true)
      .squeeze(0)
      .to(at::kByte);
}

inline std::vector<BlendLevel> blend_hierarchy(const at::Tensor& unknown, at::ScalarType acc) {
  constexpr int64_t kCoarsest = 4;
  std::vector<BlendLevel> levels;
  levels.push_back(make_level(at::ones_like(unknown), unknown, acc));
  while (std::max(levels.back().h, levels.back().w) > kCoarsest)
    levels.push_back(make_level(pool_any(levels.back().present), pool_any(levels.back().unknown), acc));
  return levels;
}

// A LevelView of bare [C, h, w] grids (undefined ones stay null; h and w from the first defined one).
template <typename T>
LevelView<T> grid_view(const at::Tensor& b, const at::Tensor& x, const at::Tensor& r = {}) {
  LevelView<T> view;
  const at::Tensor& any = b.defined() ? b : x.defined() ? x : r;
  view.h = any.size(1), view.w = any.size(2);
  const auto pointer = [](const at::Tensor& t) { return t.defined() ? t.template data_ptr<T>() : nullptr; };
  view.b = pointer(b), view.x = pointer(x), view.r = pointer(r);
  return view;
}

// A LevelView of level L: its stencil and the given grids.
template <typename T>
LevelView<T> level_view(const BlendLevel& L, const at::Tensor& b, const at::Tensor& x, const at::Tensor& r = {}) {
  LevelView<T> view = grid_view<T>(b, x, r);
  view.deg = L.deg.const_data_ptr<T>(), view.inv_deg = L.inv_deg.const_data_ptr<T>();
  view.mask = L.mask.const_data_ptr<T>();
  for (int colour = 0; colour < 2; ++colour) view.sel[colour] = L.colour_mask[colour].const_data_ptr<T>();
  return view;
}

// Runs the V-cycle from `depth` down as one tail (seamless_blend_cells.h), with K::tail(TailLevels<T>). The first
// level's b is only read (the tail writes b on the levels below it).
template <class K>
void run_tail(const std::vector<BlendLevel>& levels, size_t depth, const at::Tensor& b, at::Tensor& x) {
  const int count = static_cast<int>(levels.size() - depth);
  TORCH_CHECK(count <= kMaxTailLevels, "seamless_blend: ", count, " coarse levels, over the tail's ", kMaxTailLevels);
  std::vector<at::Tensor> grids;  // the coarse levels' b, x and r, alive until the tail has been queued
  const auto grid = [&](const BlendLevel& L) {
    return grids.emplace_back(at::empty({b.size(0), L.h, L.w}, b.options()));
  };
  AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "blend_tail", [&] {
    TailLevels<scalar_t> tail;
    tail.count = count;
    tail.channels = b.size(0);
    for (int d = 0; d < count; ++d) {
      const BlendLevel& L = levels[depth + d];
      const at::Tensor r = d + 1 < count ? grid(L) : at::Tensor();
      tail.level[d] = d == 0 ? level_view<scalar_t>(L, b, x, r) : level_view<scalar_t>(L, grid(L), grid(L), r);
    }
    K::tail(tail);
  });
}

template <class K>
void vcycle(const std::vector<BlendLevel>& levels, size_t depth, const at::Tensor& b, at::Tensor& x) {
  const BlendLevel& level = levels[depth];
  if (level.h * level.w <= kTailCells) return run_tail<K>(levels, depth, b, x);
  x.zero_();
  for (int i = 0; i < kSmoothSweeps; ++i) K::smooth(level, x, b, 0), K::smooth(level, x, b, 1);
  at::Tensor r = at::empty_like(x);
  K::residual(level, x, b, r);
  const BlendLevel& coarse = levels[depth + 1];
  at::Tensor bc = at::empty({x.size(0), coarse.h, coarse.w}, x.options());
  K::restrict_sum(r, bc);
  at::Tensor xc = at::empty_like(bc);
  vcycle<K>(levels, depth + 1, bc, xc);
  K::prolong_add(xc, level, x);
  for (int i = 0; i < kSmoothSweeps; ++i) K::smooth(level, x, b, 1), K::smooth(level, x, b, 0);
}

// Solves A u = b per channel; returns u and writes per-channel (iterations, relative residual) into stats [C, 2]
// (double, on b's device). Converged channels take alpha = beta = 0, so iterations run past convergence between
// two checks change nothing.
template <class K>
at::Tensor pcg_solve(const std::vector<BlendLevel>& levels, const at::Tensor& b, double rtol, int64_t max_iter,
                     at::Tensor stats) {
  at::Tensor x = at::zeros_like(b), r = b.clone(), z = at::empty_like(b), ap = at::empty_like(b);
  at::Tensor s = at::zeros({kScalarRows, b.size(0)}, b.options().dtype(at::kDouble));
  K::dot(b, b, s, kRr);
  K::scalar_step(s, kStart, rtol);
  vcycle<K>(levels, 0, r, z);
  at::Tensor p = z.clone();
  K::dot(r, z, s, kRz);
  for (int64_t it = 0; it < max_iter; ++it) {
    K::apply_dot(levels[0], p, ap, s);
    K::cg_update(x, r, p, ap, s);
    K::scalar_step(s, kAfterUpdate, rtol);
    if ((it + 1) % K::kCheckEvery == 0 && !K::any_active(s)) break;
    vcycle<K>(levels, 0, r, z);
    K::dot(r, z, s, kRzNew);
    K::scalar_step(s, kAfterPrecondition, rtol);
    K::direction(p, z, s);
  }
  stats.select(1, 0).copy_(s[kIters]);
  stats.select(1, 1).copy_(s[kRel]);
  return x;
}

inline void check_blend(const at::Tensor& dst, const at::Tensor& src, const at::Tensor& mask, double rtol,
                        int64_t max_iter) {
  constexpr const char* op = "seamless_blend";
  check_dim(dst, 4, op, "dst", "[N, C, H, W]");
  check_float(dst, op, "dst");
  check_same(dst, src, op, "dst", "src");
  TORCH_CHECK(src.sizes() == dst.sizes(), op, ": src ", shape_str(src), " must have dst's shape ", shape_str(dst));
  TORCH_CHECK(mask.dim() == 4 && mask.size(0) == dst.size(0) && mask.size(1) == 1 && mask.size(2) == dst.size(2) &&
                  mask.size(3) == dst.size(3),
              op, ": mask must be [N, 1, H, W] = [", dst.size(0), ", 1, ", dst.size(2), ", ", dst.size(3), "], got ",
              shape_str(mask));
  TORCH_CHECK(mask.scalar_type() == at::kByte, op, ": the op takes a uint8 0/1 mask (realtime.ops.seamless_blend "
              "converts float and bool masks), got ", mask.scalar_type());
  TORCH_CHECK(mask.device() == dst.device(), op, ": mask must be on ", dst.device(), ", got ", mask.device());
  TORCH_CHECK(rtol > 0 && rtol < 1, op, ": rtol must be in (0, 1), got ", rtol);
  TORCH_CHECK(max_iter >= 1, op, ": max_iter must be >= 1, got ", max_iter);
}

template <class K>
std::tuple<at::Tensor, at::Tensor> seamless_blend_impl(const at::Tensor& dst_in, const at::Tensor& src_in,
                                                       const at::Tensor& mask_in, double rtol, int64_t max_iter) {
  check_blend(dst_in, src_in, mask_in, rtol, max_iter);
  const at::Tensor dst = dst_in.contiguous(), src = src_in.contiguous(), mask = mask_in.contiguous();
  const int64_t n = dst.size(0), channels = dst.size(1), height = dst.size(2), width = dst.size(3);
  const auto acc = dst.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor out = dst.clone();
  at::Tensor stats = at::zeros({n, channels, 2}, dst.options().dtype(at::kDouble));
  // Bounding boxes from row/column occupancy and the mask's size, in one small copy to the host: the only wait
  // for the device outside the solves' convergence checks.
  const at::Tensor plane = mask.select(1, 0);
  const at::Tensor area = plane.sum({1, 2}, /*keepdim=*/false, at::kLong).unsqueeze(1);
  const at::Tensor layout = at::cat({plane.amax(2).to(at::kLong), plane.amax(1).to(at::kLong), area}, 1).cpu();
  const auto layout_a = layout.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t y0 = -1, y1 = -1, x0 = -1, x1 = -1;
    for (int64_t y = 0; y < height; ++y)
      if (layout_a[i][y]) y1 = y + 1, y0 = y0 < 0 ? y : y0;
    if (y0 < 0) continue;  // empty mask: dst unchanged
    for (int64_t x = 0; x < width; ++x)
      if (layout_a[i][height + x]) x1 = x + 1, x0 = x0 < 0 ? x : x0;
    y0 = std::max<int64_t>(y0 - 1, 0), y1 = std::min(y1 + 1, height);
    x0 = std::max<int64_t>(x0 - 1, 0), x1 = std::min(x1 + 1, width);
    const at::Tensor unknown = mask[i][0].slice(0, y0, y1).slice(1, x0, x1).contiguous();
    const at::Tensor d = dst[i].slice(1, y0, y1).slice(2, x0, x1).to(acc);
    const at::Tensor s = src[i].slice(1, y0, y1).slice(2, x0, x1).to(acc);
    const at::Tensor inside = unknown.to(at::kBool);
    at::Tensor u;
    if (layout_a[i][height + width] == (y1 - y0) * (x1 - x0)) {
      // Ω is the whole frame (the box grows past the mask wherever the frame allows): no Dirichlet boundary, so
      // f is src up to a constant; keep dst's mean.
      u = (d - s).mean({1, 2}, /*keepdim=*/true).expand_as(s);
    } else {
      const auto levels = blend_hierarchy(unknown, acc);
      const at::Tensor outside = at::logical_not(inside).to(acc);
      at::Tensor b = (neighbour_sum(outside * (d - s)) * inside.to(acc)).contiguous();
      u = pcg_solve<K>(levels, b, rtol, max_iter, stats[i]);
    }
    out[i].slice(1, y0, y1).slice(2, x0, x1).copy_(at::where(inside, s + u, d));
  }
  return {out, stats};
}

}  // namespace realtime
