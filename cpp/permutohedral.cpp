// Permutohedral lattice, reference-equivalent float32 arithmetic (see permutohedral.h).
#include "permutohedral.h"

#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"

namespace stcn::crf {
namespace {

constexpr int kMaxDims = 16;

// Open-addressing (linear probing) hash table from d-dimensional int16 keys to dense vertex ids,
// assigned in insertion order (the reference's order: point by point, vertex 0..d). Each slot holds
// the id and 32 bits of the key's hash, so a probe only reads the stored key on a likely match; the
// table starts small and doubles at half load (it stays cache-sized: ~2-4 slots per vertex).
class LatticeHash {
 public:
  explicit LatticeHash(int keySize) : keySize_(keySize) {
    slots_.assign(4096, Slot{-1, 0});
    mask_ = slots_.size() - 1;
  }

  int size() const { return filled_; }
  const int16_t* key(int id) const { return keys_.data() + static_cast<size_t>(id) * keySize_; }

  int findOrInsert(const int16_t* k) {
    if (2 * static_cast<size_t>(filled_) >= slots_.size()) grow();
    const uint64_t hv = hash(k);
    const uint32_t tag = static_cast<uint32_t>(hv >> 32);
    size_t h = static_cast<size_t>(hv) & mask_;
    for (;;) {
      const Slot s = slots_[h];
      if (s.id < 0) {
        keys_.insert(keys_.end(), k, k + keySize_);
        slots_[h] = Slot{filled_, tag};
        return filled_++;
      }
      if (s.tag == tag && equal(key(s.id), k)) return s.id;
      h = (h + 1) & mask_;
    }
  }

  // -1 when absent. Read-only (safe from several threads once building is over).
  int find(const int16_t* k) const { return findHashed(k, hash(k)); }

  // find() in two steps, so that a batch of lookups can prefetch their slots first.
  uint64_t hashOf(const int16_t* k) const { return hash(k); }
  void prefetch(uint64_t hv) const { __builtin_prefetch(&slots_[static_cast<size_t>(hv) & mask_]); }
  int findHashed(const int16_t* k, uint64_t hv) const {
    const uint32_t tag = static_cast<uint32_t>(hv >> 32);
    size_t h = static_cast<size_t>(hv) & mask_;
    for (;;) {
      const Slot s = slots_[h];
      if (s.id < 0) return -1;
      if (s.tag == tag && equal(key(s.id), k)) return s.id;
      h = (h + 1) & mask_;
    }
  }

 private:
  struct Slot {
    int32_t id;
    uint32_t tag;
  };

  bool equal(const int16_t* a, const int16_t* b) const {
    for (int i = 0; i < keySize_; i++)
      if (a[i] != b[i]) return false;
    return true;
  }

  // Coordinates packed 16 bits at a time, then a 64-bit finaliser (MurmurHash3's fmix64) so that the
  // low bits used for the slot depend on every coordinate.
  uint64_t hash(const int16_t* k) const {
    uint64_t r = 0;
    int i = 0;
    for (; i + 4 <= keySize_; i += 4) {
      uint64_t w = 0;
      std::memcpy(&w, k + i, 8);
      r = (r ^ w) * 0x9E3779B97F4A7C15ull;
    }
    for (; i < keySize_; i++) r = (r ^ static_cast<uint16_t>(k[i])) * 0x9E3779B97F4A7C15ull;
    r ^= r >> 33;
    r *= 0xff51afd7ed558ccdull;
    r ^= r >> 33;
    return r;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{-1, 0});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      size_t h = static_cast<size_t>(hash(key(s.id))) & mask_;
      while (slots_[h].id >= 0) h = (h + 1) & mask_;
      slots_[h] = s;
    }
  }

  int keySize_;
  int filled_ = 0;
  size_t mask_ = 0;
  std::vector<Slot> slots_;
  std::vector<int16_t> keys_;
};

// Round to nearest, ties to even (the reference's SSE path: _mm_cvtps_epi32 under the default MXCSR).
inline float roundEven(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  if (std::fabs(v) < 4194304.0f) return (v + kMagic) - kMagic;
  return std::nearbyint(v);
}

// Per point: the remainder-0 lattice point (int16) and rank of each of the d+1 coordinates, and the
// barycentric weights. D > 0 is the compile-time dimension, D == 0 reads it from `dRuntime`.
template <int D>
void simplexOfPoints(const float* features, int64_t begin, int64_t end, int dRuntime, int16_t* rem0Out, uint8_t* rankOut,
                     float* bary) {
  const int d = D > 0 ? D : dRuntime;
  const int dp1 = d + 1;
  // Expected standard deviation of the filter (p.6 in Adams et al. 2010), as the reference computes it.
  const float invStdDev = static_cast<float>(std::sqrt(2.0 / 3.0) * dp1);
  float scale[kMaxDims];
  for (int i = 0; i < d; i++) scale[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>((i + 2) * (i + 1))) * invStdDev);
  const float invDp1 = 1.0f / static_cast<float>(dp1);
  const float fDp1 = static_cast<float>(dp1);

  float elevated[kMaxDims + 1];
  float rem0[kMaxDims + 1];
  int rank[kMaxDims + 1];
  float b[kMaxDims + 2];
  for (int64_t p = begin; p < end; p++) {
    const float* f = features + static_cast<size_t>(p) * d;
    // Elevate (y = E p, p.5 in Adams et al. 2010).
    float sm = 0.0f;
    bool finite = true;
    for (int j = d; j > 0; j--) {
      finite = finite && std::isfinite(f[j - 1]);
      const float cf = f[j - 1] * scale[j - 1];
      elevated[j] = sm - static_cast<float>(j) * cf;
      sm += cf;
    }
    elevated[0] = sm;
    if (!finite) throw Error(ErrorCode::Internal, "internal: permutohedral lattice: a feature of point " + std::to_string(p) + " is not finite");

    // Closest remainder-0 point.
    float sum = 0.0f;
    for (int i = 0; i <= d; i++) {
      const float v = roundEven(invDp1 * elevated[i]);
      rem0[i] = v * fDp1;
      sum += v;
    }
    // Rank of each coordinate's residual (larger residual, lower rank).
    // (Branch-free: the comparisons are data-dependent.)
    float res[kMaxDims + 1];
    for (int i = 0; i <= d; i++) {
      rank[i] = 0;
      res[i] = elevated[i] - rem0[i];
    }
    for (int i = 0; i < d; i++) {
      for (int j = i + 1; j <= d; j++) {
        const int lt = res[i] < res[j] ? 1 : 0;
        rank[i] += lt;
        rank[j] += 1 - lt;
      }
    }
    // Bring the point back onto the plane.
    const int isum = static_cast<int>(sum);
    for (int i = 0; i <= d; i++) {
      const int r = rank[i] + isum;
      const int wrap = (r < 0 ? dp1 : 0) - (r >= dp1 ? dp1 : 0);
      rank[i] = r + wrap;
      rem0[i] += static_cast<float>(wrap);
    }
    // Barycentric coordinates (p.10 in Adams et al. 2010).
    for (int i = 0; i <= d + 1; i++) b[i] = 0.0f;
    for (int i = 0; i <= d; i++) {
      const float v = (elevated[i] - rem0[i]) * invDp1;
      b[d - rank[i]] += v;
      b[d - rank[i] + 1] -= v;
    }
    b[0] += 1.0f + b[d + 1];

    int16_t* ro = rem0Out + static_cast<size_t>(p) * dp1;
    uint8_t* rk = rankOut + static_cast<size_t>(p) * dp1;
    float* w = bary + static_cast<size_t>(p) * dp1;
    for (int i = 0; i <= d; i++) {
      // Vertex coordinates are rem0 + (r or r - (d+1)): keep them inside int16 (as the reference's keys).
      if (!(rem0[i] > -32000.0f && rem0[i] < 32000.0f)) {
        throw Error(ErrorCode::Argument,
                    "permutohedral lattice: feature values of point " + std::to_string(p) +
                        " are too large for 16-bit lattice coordinates (is a kernel width such as sxy/srgb far too small?)");
      }
      ro[i] = static_cast<int16_t>(rem0[i]);
      rk[i] = static_cast<uint8_t>(rank[i]);
      w[i] = b[i];
    }
  }
}

// Vertex ids (+1) of points [begin, end) in `hash`, inserted in point order (the reference's order).
template <int D>
void insertVertices(int64_t begin, int64_t end, int dRuntime, const int16_t* rem0, const uint8_t* rank, LatticeHash& hash,
                    int32_t* offset) {
  const int d = D > 0 ? D : dRuntime;
  const int dp1 = d + 1;
  int canonical[kMaxDims + 1][kMaxDims + 1];
  for (int r = 0; r <= d; r++) {
    for (int j = 0; j <= d - r; j++) canonical[r][j] = r;
    for (int j = d - r + 1; j <= d; j++) canonical[r][j] = r - dp1;
  }
  int16_t keys[kMaxDims + 1][kMaxDims];
  int16_t prevKeys[kMaxDims + 1][kMaxDims];
  int32_t prevIds[kMaxDims + 1];
  for (int64_t p = begin; p < end; p++) {
    const int16_t* ro = rem0 + static_cast<size_t>(p) * dp1;
    const uint8_t* rk = rank + static_cast<size_t>(p) * dp1;
    int32_t* off = offset + static_cast<size_t>(p) * dp1;
    if (p > begin) {
      // Same simplex as the previous point (common for neighbouring pixels): same vertices.
      bool same = true;
      for (int i = 0; i < d; i++) same = same && ro[i] == ro[i - dp1] && rk[i] == rk[i - dp1];
      if (same) {
        for (int r = 0; r <= d; r++) off[r] = off[r - dp1];
        continue;
      }
    }
    for (int r = 0; r <= d; r++)
      for (int i = 0; i < d; i++) keys[r][i] = static_cast<int16_t>(ro[i] + canonical[r][rk[i]]);
    for (int r = 0; r <= d; r++) {
      int id = -1;
      // Neighbouring points mostly share vertices: look in the previous point's vertices first.
      if (p > begin) {
        for (int q = 0; q <= d && id < 0; q++) {
          bool eq;
          if constexpr (D > 0) {
            eq = std::memcmp(prevKeys[q], keys[r], sizeof(int16_t) * D) == 0;  // inlined: constant size
          } else {
            eq = true;
            for (int i = 0; i < d; i++) eq = eq && prevKeys[q][i] == keys[r][i];
          }
          if (eq) id = prevIds[q];
        }
      }
      if (id < 0) id = hash.findOrInsert(keys[r]);
      off[r] = id + 1;
    }
    std::memcpy(prevKeys, keys, sizeof(keys[0]) * dp1);
    for (int r = 0; r <= d; r++) prevIds[r] = off[r] - 1;
  }
}

template <int D>
void splatImpl(const int32_t* offset, const float* bary, int n, int dRuntime, float* grid, const float* in, const float* scale) {
  const int dp1 = (D > 0 ? D : dRuntime) + 1;
  for (int i = 0; i < n; i++) {
    const float v = scale ? in[i] * scale[i] : in[i];
    const int32_t* o = offset + static_cast<size_t>(i) * dp1;
    const float* w = bary + static_cast<size_t>(i) * dp1;
    for (int r = 0; r < dp1; r++) grid[o[r]] += w[r] * v;
  }
}

// Slice: out[i] = sum_r (w_r * grid[o_r]) * alpha (the reference's order for <= 2 value rows), or
// sum_r (w_r * alpha) * grid[o_r] (its SSE path, used for > 2 rows).
template <int D>
void sliceImpl(const int32_t* offset, const float* bary, int n, int dRuntime, const float* grid, float alpha,
               bool alphaFirst, float* out) {
  const int dp1 = (D > 0 ? D : dRuntime) + 1;
  for (int i = 0; i < n; i++) {
    const int32_t* o = offset + static_cast<size_t>(i) * dp1;
    const float* w = bary + static_cast<size_t>(i) * dp1;
    float acc = 0.0f;
    if (alphaFirst) {
      for (int r = 0; r < dp1; r++) acc += (w[r] * alpha) * grid[o[r]];
    } else {
      for (int r = 0; r < dp1; r++) acc += w[r] * grid[o[r]] * alpha;
    }
    out[i] = acc;
  }
}

}  // namespace

void Permutohedral::init(const float* features, int n, int d, int threads) {
  if (d < 1 || d > kMaxDims) {
    throw Error(ErrorCode::Internal, "internal: permutohedral lattice: feature dimension must be 1.." + std::to_string(kMaxDims) +
                                         ", got " + std::to_string(d));
  }
  if (n < 1) throw Error(ErrorCode::Internal, "internal: permutohedral lattice: no points");
  n_ = n;
  d_ = d;
  alpha_ = 1.0f / (1.0f + std::pow(2.0f, static_cast<float>(-d)));
  const int dp1 = d + 1;
  offset_.assign(static_cast<size_t>(n) * dp1, 0);
  bary_.assign(static_cast<size_t>(n) * dp1, 0.0f);

  // The simplex of each point and its vertex ids. One thread numbers the vertices exactly as the
  // reference (point by point, vertex 0..d); with several threads each range of points gets its own
  // table, merged afterwards (other ids, same vertices: ids never change any arithmetic, since splat
  // sums each vertex in point order, blur is per vertex and slice per point).
  const int chunks = n >= 32768 ? std::max(1, std::min(threads, 16)) : 1;
  std::vector<LatticeHash> tables;
  tables.reserve(static_cast<size_t>(chunks));
  for (int c = 0; c < chunks; c++) tables.emplace_back(d);
  {
    std::vector<int16_t> rem0(static_cast<size_t>(n) * dp1);
    std::vector<uint8_t> rank(static_cast<size_t>(n) * dp1);
    parallelChunks(chunks, n, [&](int64_t c, int64_t b, int64_t e) {
      switch (d) {
        case 2:
          simplexOfPoints<2>(features, b, e, d, rem0.data(), rank.data(), bary_.data());
          insertVertices<2>(b, e, d, rem0.data(), rank.data(), tables[c], offset_.data());
          break;
        case 5:
          simplexOfPoints<5>(features, b, e, d, rem0.data(), rank.data(), bary_.data());
          insertVertices<5>(b, e, d, rem0.data(), rank.data(), tables[c], offset_.data());
          break;
        default:
          simplexOfPoints<0>(features, b, e, d, rem0.data(), rank.data(), bary_.data());
          insertVertices<0>(b, e, d, rem0.data(), rank.data(), tables[c], offset_.data());
          break;
      }
    });
  }
  LatticeHash& hash = tables[0];
  if (chunks > 1) {
    std::vector<std::vector<int32_t>> remap(static_cast<size_t>(chunks));
    for (int c = 1; c < chunks; c++) {
      const LatticeHash& t = tables[c];
      remap[c].resize(static_cast<size_t>(t.size()));
      for (int id = 0; id < t.size(); id++) remap[c][id] = hash.findOrInsert(t.key(id)) + 1;
    }
    parallelChunks(chunks, n, [&](int64_t c, int64_t b, int64_t e) {
      if (c == 0) return;
      const int32_t* map = remap[c].data();
      for (size_t j = static_cast<size_t>(b) * dp1; j < static_cast<size_t>(e) * dp1; j++) offset_[j] = map[offset_[j] - 1];
    });
    for (int c = 1; c < chunks; c++) tables[c] = LatticeHash(d);
  }
  m_ = hash.size();

  // Blur neighbours along each of the d+1 axes: n1 = key - 1 on every stored coordinate except
  // n1[j] = key[j] + d; n2 = key + 1 except n2[j] = key[j] - d (axis d shifts all stored coordinates).
  // The relation is symmetric (n1(a) = b exactly when n2(b) = a), so only n1 is looked up.
  neighbours_.assign(static_cast<size_t>(dp1) * m_ * 2, 0);
  const int m = m_;
  parallelFor(threads, m, [&](int64_t begin, int64_t end) {
    // Batches of lookups: hash and prefetch all slots of a batch, then probe (the table does not fit
    // the L1/L2 caches, so this hides most of the memory latency).
    constexpr int kBatch = 16;
    int16_t n1[kBatch][kMaxDims + 1];
    uint64_t hv[kBatch];
    for (int j = 0; j <= d; j++) {
      int32_t* nb = neighbours_.data() + static_cast<size_t>(j) * m * 2;
      for (int64_t i0 = begin; i0 < end; i0 += kBatch) {
        const int cnt = static_cast<int>(std::min<int64_t>(kBatch, end - i0));
        for (int q = 0; q < cnt; q++) {
          const int16_t* key = hash.key(static_cast<int>(i0 + q));
          for (int k = 0; k < d; k++) n1[q][k] = static_cast<int16_t>(key[k] - 1);
          if (j < d) n1[q][j] = static_cast<int16_t>(key[j] + d);
          hv[q] = hash.hashOf(n1[q]);
          hash.prefetch(hv[q]);
        }
        for (int q = 0; q < cnt; q++) nb[2 * (i0 + q)] = hash.findHashed(n1[q], hv[q]) + 1;
      }
    }
  });
  // n2: distinct targets (n1 is injective), so the writes never collide.
  parallelFor(threads, m, [&](int64_t begin, int64_t end) {
    for (int j = 0; j <= d; j++) {
      int32_t* nb = neighbours_.data() + static_cast<size_t>(j) * m * 2;
      for (int64_t i = begin; i < end; i++) {
        const int32_t b1 = nb[2 * i];
        if (b1 > 0) nb[2 * (b1 - 1) + 1] = static_cast<int32_t>(i + 1);
      }
    }
  });
}

void Permutohedral::splat(float* grid, const float* in, const float* scale) const {
  switch (d_) {
    case 2: splatImpl<2>(offset_.data(), bary_.data(), n_, d_, grid, in, scale); break;
    case 5: splatImpl<5>(offset_.data(), bary_.data(), n_, d_, grid, in, scale); break;
    default: splatImpl<0>(offset_.data(), bary_.data(), n_, d_, grid, in, scale); break;
  }
}

void Permutohedral::blur(float* grid, float* tmp, bool reverse) const {
  float* values = grid;
  float* next = tmp;
  next[0] = 0.0f;
  for (int step = 0; step <= d_; step++) {
    const int j = reverse ? d_ - step : step;
    const int32_t* nb = neighbours_.data() + static_cast<size_t>(j) * m_ * 2;
    for (int i = 0; i < m_; i++) {
      next[i + 1] = values[i + 1] + 0.5f * (values[nb[2 * i]] + values[nb[2 * i + 1]]);
    }
    std::swap(values, next);
  }
  if (values != grid) std::memcpy(grid, values, sizeof(float) * (static_cast<size_t>(m_) + 1));
}

void Permutohedral::compute(float* out, const float* in, int valueSize, bool reverse, int threads) const {
  if (valueSize < 1) return;
  const size_t g = static_cast<size_t>(gridSize());
  const bool alphaFirst = valueSize > 2;
  // Every value row is independent: splat, blur and slice one row per task.
  std::vector<float> rowsOut(static_cast<size_t>(valueSize) * n_);
  parallelFor(threads, valueSize, [&](int64_t begin, int64_t end) {
    std::vector<float> grid(g), tmp(g);
    for (int64_t k = begin; k < end; k++) {
      std::fill(grid.begin(), grid.end(), 0.0f);
      splat(grid.data(), in + static_cast<size_t>(k) * n_, nullptr);
      blur(grid.data(), tmp.data(), reverse);
      float* o = rowsOut.data() + static_cast<size_t>(k) * n_;
      switch (d_) {
        case 2: sliceImpl<2>(offset_.data(), bary_.data(), n_, d_, grid.data(), alpha_, alphaFirst, o); break;
        case 5: sliceImpl<5>(offset_.data(), bary_.data(), n_, d_, grid.data(), alpha_, alphaFirst, o); break;
        default: sliceImpl<0>(offset_.data(), bary_.data(), n_, d_, grid.data(), alpha_, alphaFirst, o); break;
      }
    }
  });
  std::memcpy(out, rowsOut.data(), sizeof(float) * rowsOut.size());
}

}  // namespace stcn::crf
