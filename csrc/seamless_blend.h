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

using ChannelSums = std::vector<double>;  // one value per channel

// Kernels must provide (x, b, r, p, z, ap: contiguous acc [C, h, w] on the level's device):
//   smooth(L, x, b, colour)            red-black Gauss-Seidel half-sweep over unknown cells with (y+x)%2 == colour
//   residual(L, x, b, r)               r = b - A x on unknown cells, 0 elsewhere
//   apply_dot(L, p, ap) -> sums        ap = A p; returns sum p*ap per channel
//   restrict_sum(fine_r, coarse_b)     coarse_b[Y, X] = sum of fine_r over the 2x2 children (ceil sizes)
//   prolong_add(coarse, L, fine_x)     fine_x[y, x] += coarse[y/2, x/2] on unknown cells of L
//   cg_update(x, r, p, ap, alpha) -> r.r   x += alpha p; r -= alpha ap (per channel); returns sum r*r
//   dot(a, b) -> sums
//   direction(p, z, beta)              p = z + beta p (per channel)
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

template <class K>
void vcycle(const std::vector<BlendLevel>& levels, size_t depth, const at::Tensor& b, at::Tensor& x) {
  constexpr int kSweeps = 2, kCoarseSweeps = 16;
  const BlendLevel& level = levels[depth];
  x.zero_();
  if (depth + 1 == levels.size()) {
    for (int i = 0; i < kCoarseSweeps; ++i) {
      K::smooth(level, x, b, 0), K::smooth(level, x, b, 1);
      K::smooth(level, x, b, 1), K::smooth(level, x, b, 0);
    }
    return;
  }
  for (int i = 0; i < kSweeps; ++i) K::smooth(level, x, b, 0), K::smooth(level, x, b, 1);
  at::Tensor r = at::empty_like(x);
  K::residual(level, x, b, r);
  const BlendLevel& coarse = levels[depth + 1];
  at::Tensor bc = at::empty({x.size(0), coarse.h, coarse.w}, x.options());
  K::restrict_sum(r, bc);
  at::Tensor xc = at::empty_like(bc);
  vcycle<K>(levels, depth + 1, bc, xc);
  K::prolong_add(xc, level, x);
  for (int i = 0; i < kSweeps; ++i) K::smooth(level, x, b, 1), K::smooth(level, x, b, 0);
}

// Solves A u = b per channel; writes u and per-channel (iterations, relative residual) into stats [C, 2].
template <class K>
at::Tensor pcg_solve(const std::vector<BlendLevel>& levels, const at::Tensor& b, double rtol, int64_t max_iter,
                     double* stats) {
  const int64_t channels = b.size(0);
  at::Tensor x = at::zeros_like(b), r = b.clone(), z = at::empty_like(b), ap = at::empty_like(b);
  const ChannelSums bb = K::dot(b, b);
  std::vector<double> b_norm(channels), rel(channels, 0.0), alpha(channels), beta(channels);
  std::vector<bool> active(channels);
  bool any_active = false;
  for (int64_t c = 0; c < channels; ++c) {
    b_norm[c] = std::sqrt(bb[c]);
    active[c] = b_norm[c] > 0;
    rel[c] = active[c] ? 1.0 : 0.0;
    any_active = any_active || active[c];
    stats[2 * c] = 0;
  }
  vcycle<K>(levels, 0, r, z);
  at::Tensor p = z.clone();
  ChannelSums rz = K::dot(r, z);
  for (int64_t it = 0; any_active && it < max_iter; ++it) {
    const ChannelSums pap = K::apply_dot(levels[0], p, ap);
    for (int64_t c = 0; c < channels; ++c) alpha[c] = active[c] && pap[c] > 0 ? rz[c] / pap[c] : 0.0;
    const ChannelSums rr = K::cg_update(x, r, p, ap, alpha);
    any_active = false;
    for (int64_t c = 0; c < channels; ++c) {
      if (!active[c]) continue;
      stats[2 * c] += 1;
      rel[c] = std::sqrt(rr[c]) / b_norm[c];
      active[c] = rel[c] > rtol;
      any_active = any_active || active[c];
    }
    if (!any_active) break;
    vcycle<K>(levels, 0, r, z);
    const ChannelSums rz_new = K::dot(r, z);
    for (int64_t c = 0; c < channels; ++c) {
      beta[c] = active[c] && rz[c] > 0 ? rz_new[c] / rz[c] : 0.0;
      rz[c] = rz_new[c];
    }
    K::direction(p, z, beta);
  }
  for (int64_t c = 0; c < channels; ++c) stats[2 * c + 1] = rel[c];
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
  at::Tensor stats = at::zeros({n, channels, 2}, at::TensorOptions().dtype(at::kDouble));
  // Bounding boxes from row/column occupancy: two small device-to-host copies instead of the whole mask.
  const at::Tensor rows = mask.select(1, 0).amax(2).cpu(), cols = mask.select(1, 0).amax(1).cpu();
  const auto rows_a = rows.accessor<uint8_t, 2>();
  const auto cols_a = cols.accessor<uint8_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t y0 = -1, y1 = -1, x0 = -1, x1 = -1;
    for (int64_t y = 0; y < height; ++y)
      if (rows_a[i][y]) y1 = y + 1, y0 = y0 < 0 ? y : y0;
    if (y0 < 0) continue;  // empty mask: dst unchanged
    for (int64_t x = 0; x < width; ++x)
      if (cols_a[i][x]) x1 = x + 1, x0 = x0 < 0 ? x : x0;
    y0 = std::max<int64_t>(y0 - 1, 0), y1 = std::min(y1 + 1, height);
    x0 = std::max<int64_t>(x0 - 1, 0), x1 = std::min(x1 + 1, width);
    const at::Tensor unknown = mask[i][0].slice(0, y0, y1).slice(1, x0, x1).contiguous();
    const at::Tensor d = dst[i].slice(1, y0, y1).slice(2, x0, x1).to(acc);
    const at::Tensor s = src[i].slice(1, y0, y1).slice(2, x0, x1).to(acc);
    const at::Tensor inside = unknown.to(at::kBool);
    at::Tensor u;
    if (inside.all().item<bool>()) {
      // Ω is the whole frame: no Dirichlet boundary, so f is src up to a constant; keep dst's mean.
      u = (d - s).mean({1, 2}, /*keepdim=*/true).expand_as(s);
    } else {
      const auto levels = blend_hierarchy(unknown, acc);
      const at::Tensor outside = at::logical_not(inside).to(acc);
      at::Tensor b = (neighbour_sum(outside * (d - s)) * inside.to(acc)).contiguous();
      u = pcg_solve<K>(levels, b, rtol, max_iter, stats[i].data_ptr<double>());
    }
    out[i].slice(1, y0, y1).slice(2, x0, x1).copy_(at::where(inside, s + u, d));
  }
  return {out, stats.to(dst.device())};
}

}  // namespace realtime
