// Dense CRF mean-field inference (see dense_crf.h).
#include "dense_crf.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "errors.h"
#include "permutohedral.h"

namespace stcn::crf {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::Argument, "denseCrf: " + message); }

void validate(const CrfInput& in) {
  if (in.width < 1 || in.height < 1) fail("image size must be positive, got " + std::to_string(in.width) + "x" + std::to_string(in.height));
  if (static_cast<int64_t>(in.width) * in.height > (int64_t{1} << 30)) fail("image too large");
  if (in.nLabels < 1) fail("nLabels must be >= 1, got " + std::to_string(in.nLabels));
  if (in.iterations < 0) fail("iterations must be >= 0, got " + std::to_string(in.iterations));
  const size_t n = static_cast<size_t>(in.width) * in.height;
  switch (in.unaryKind) {
    case UnaryKind::Labels: {
      if (!in.labels) fail("labels missing");
      if (!(in.gtProb > 0.0 && in.gtProb < 1.0)) fail("gtProb must be in (0, 1), got " + std::to_string(in.gtProb));
      const int limit = in.zeroUnsure ? in.nLabels : in.nLabels - 1;
      for (size_t i = 0; i < n; i++) {
        if (in.labels[i] > limit) {
          fail("label " + std::to_string(in.labels[i]) + " at pixel (x " + std::to_string(i % in.width) + ", y " +
               std::to_string(i / in.width) + ") is out of range: with nLabels " + std::to_string(in.nLabels) +
               (in.zeroUnsure ? " and zeroUnsure labels are 0 (unsure) or 1.." + std::to_string(in.nLabels)
                              : " labels are 0.." + std::to_string(in.nLabels - 1)));
        }
      }
      break;
    }
    case UnaryKind::Probabilities:
      if (!in.probabilities) fail("probabilities missing");
      if (!(in.clip >= 0.0 && in.clip <= 1.0)) fail("clip must be in [0, 1], got " + std::to_string(in.clip));
      if (!(in.scale >= 0.0 && in.scale <= 1.0)) fail("scale must be in (0, 1] (0 = no blending), got " + std::to_string(in.scale));
      break;
    case UnaryKind::Energy:
      if (!in.energy) fail("energy missing");
      break;
  }
  for (size_t t = 0; t < in.pairwise.size(); t++) {
    const PairwiseTerm& p = in.pairwise[t];
    const std::string name = std::string(p.kind == PairwiseTerm::Kind::Gaussian ? "gaussian" : "bilateral") + " term " + std::to_string(t);
    if (!(p.sx > 0.0f && p.sy > 0.0f && std::isfinite(p.sx) && std::isfinite(p.sy))) fail(name + ": sxy must be positive and finite");
    if (!std::isfinite(p.compat)) fail(name + ": compat must be finite");
    if (p.kind == PairwiseTerm::Kind::Bilateral) {
      if (!(p.sr > 0.0f && p.sg > 0.0f && p.sb > 0.0f && std::isfinite(p.sr) && std::isfinite(p.sg) && std::isfinite(p.sb))) {
        fail(name + ": srgb must be positive and finite");
      }
      if (!in.image) fail(name + " needs the RGB image");
    }
  }
}

// One pairwise term: lattice, per-pixel normaliser, Potts weight.
struct Kernel {
  Permutohedral lattice;
  std::vector<float> norm;
  bool normBefore = false;  // multiply Q by norm before filtering
  bool normAfter = false;   // multiply the filtered values by norm
  float compat = 0.0f;
  std::vector<float> grid;  // [nLabels][M+1]
  std::vector<float> tmp;   // [nLabels][M+1]
};

void setupKernel(Kernel& k, const PairwiseTerm& term, const CrfInput& in, int threads) {
  const int w = in.width;
  const int h = in.height;
  const size_t n = static_cast<size_t>(w) * h;
  const bool bilateral = term.kind == PairwiseTerm::Kind::Bilateral;
  const int d = bilateral ? 5 : 2;
  std::vector<float> features(n * d);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      const size_t i = static_cast<size_t>(y) * w + x;
      float* f = features.data() + i * d;
      f[0] = static_cast<float>(x) / term.sx;
      f[1] = static_cast<float>(y) / term.sy;
      if (bilateral) {
        f[2] = static_cast<float>(in.image[i * 3 + 0]) / term.sr;
        f[3] = static_cast<float>(in.image[i * 3 + 1]) / term.sg;
        f[4] = static_cast<float>(in.image[i * 3 + 2]) / term.sb;
      }
    }
  }
  k.lattice.init(features.data(), static_cast<int>(n), d, threads);
  features = std::vector<float>();

  // Normaliser from the filter of an all-ones signal, as the reference's DenseKernel::initLattice.
  std::vector<float> ones(n, 1.0f);
  k.norm.assign(n, 0.0f);
  k.lattice.compute(k.norm.data(), ones.data(), 1, false, 1);
  switch (term.normalization) {
    case Normalization::None: {
      // The reference computes N / sum(L(1)) here but its filter never applies it: the filter is raw.
      k.normBefore = k.normAfter = false;
      break;
    }
    case Normalization::Symmetric:
      for (float& v : k.norm) v = static_cast<float>(1.0 / std::sqrt(static_cast<double>(v) + 1e-20));
      k.normBefore = k.normAfter = true;
      break;
    case Normalization::Before:
    case Normalization::After:
      for (float& v : k.norm) v = static_cast<float>(1.0 / (static_cast<double>(v) + 1e-20));
      k.normBefore = term.normalization == Normalization::Before;
      k.normAfter = term.normalization == Normalization::After;
      break;
  }
  k.compat = term.compat;
  const size_t g = static_cast<size_t>(k.lattice.gridSize()) * in.nLabels;
  k.grid.assign(g, 0.0f);
  k.tmp.assign(g, 0.0f);
}

// Q[:, i] = softmax(t) with the reference's arithmetic (max-subtracted, exp, divide by the sum).
inline void softmaxInto(const float* t, int nLabels, float* q, size_t stride) {
  float mx = t[0];
  int arg = 0;
  for (int k = 1; k < nLabels; k++) {
    if (t[k] > mx) {
      mx = t[k];
      arg = k;
    }
  }
  float e[256];
  float sum = 0.0f;
  for (int k = 0; k < nLabels; k++) {
    e[k] = k == arg ? 1.0f : std::exp(t[k] - mx);
    sum += e[k];
  }
  for (int k = 0; k < nLabels; k++) q[k * stride] = e[k] / sum;
}

// Generic softmax for any number of labels (heap scratch when > 256 labels).
void softmaxRange(const float* negEnergy, int nLabels, size_t n, float* q, int64_t begin, int64_t end) {
  std::vector<float> t(static_cast<size_t>(nLabels)), e(static_cast<size_t>(nLabels));
  for (int64_t i = begin; i < end; i++) {
    for (int k = 0; k < nLabels; k++) t[k] = negEnergy[k * n + i];
    if (nLabels <= 256) {
      softmaxInto(t.data(), nLabels, q + i, n);
      continue;
    }
    float mx = t[0];
    for (int k = 1; k < nLabels; k++) mx = std::max(mx, t[k]);
    float sum = 0.0f;
    for (int k = 0; k < nLabels; k++) sum += e[k] = std::exp(t[k] - mx);
    for (int k = 0; k < nLabels; k++) q[k * n + i] = e[k] / sum;
  }
}

}  // namespace

std::vector<float> computeUnary(const CrfInput& in) {
  const size_t n = static_cast<size_t>(in.width) * in.height;
  const int m = in.nLabels;
  std::vector<float> u(n * m);
  switch (in.unaryKind) {
    case UnaryKind::Labels: {
      // unary_from_labels: -log(gt) for the annotated label, -log((1-gt)/(M-1)) for the others,
      // -log(1/M) everywhere where the label is 0 with zeroUnsure (then labels are 1-based).
      const float nEnergy = m > 1 ? static_cast<float>(-std::log((1.0 - in.gtProb) / (m - 1))) : 0.0f;
      const float pEnergy = static_cast<float>(-std::log(in.gtProb));
      const float uniform = static_cast<float>(-std::log(1.0 / m));
      for (size_t i = 0; i < n; i++) {
        const int label = in.labels[i];
        if (in.zeroUnsure && label == 0) {
          for (int k = 0; k < m; k++) u[k * n + i] = uniform;
          continue;
        }
        const int row = in.zeroUnsure ? label - 1 : label;
        for (int k = 0; k < m; k++) u[k * n + i] = k == row ? pEnergy : nEnergy;
      }
      break;
    }
    case UnaryKind::Probabilities: {
      // unary_from_softmax: optional blend scale*p + (1-scale)/M, clip to [clip, 1], -log.
      for (size_t j = 0; j < n * m; j++) {
        double p = in.probabilities[j];
        if (!std::isfinite(p)) fail("probability " + std::to_string(j) + " is not finite");
        if (in.scale > 0.0) p = in.scale * p + (1.0 - in.scale) / m;
        if (in.clip > 0.0) p = std::min(std::max(p, in.clip), 1.0);
        u[j] = static_cast<float>(-std::log(p));
      }
      break;
    }
    case UnaryKind::Energy:
      for (size_t j = 0; j < n * m; j++) {
        if (std::isnan(in.energy[j])) fail("energy " + std::to_string(j) + " is NaN");
        u[j] = in.energy[j];
      }
      break;
  }
  return u;
}

CrfResult denseCrf(const CrfInput& in) {
  const Clock::time_point start = Clock::now();
  validate(in);
  const int threads = std::max(1, in.threads);
  const int L = in.nLabels;
  const size_t n = static_cast<size_t>(in.width) * in.height;
  CrfResult result;

  // Unary, as -U (the softmax input).
  Clock::time_point t0 = Clock::now();
  std::vector<float> negU = computeUnary(in);
  for (float& v : negU) v = -v;
  result.unaryMs = msSince(t0);

  // Lattices and normalisers: the terms are independent, so they are built in parallel.
  t0 = Clock::now();
  const int nTerms = static_cast<int>(in.pairwise.size());
  std::vector<std::unique_ptr<Kernel>> kernels;
  for (int m = 0; m < nTerms; m++) kernels.push_back(std::make_unique<Kernel>());
  if (in.iterations > 0 && nTerms > 0) {
    const int inner = std::max(1, threads / nTerms);
    parallelFor(std::min(threads, nTerms), nTerms, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; m++) setupKernel(*kernels[m], in.pairwise[m], in, inner);
    });
    for (auto& k : kernels) result.latticePoints.push_back(k->lattice.latticePoints());
  }
  result.setupMs = msSince(t0);

  // Mean-field: Q0 = softmax(-U); each step Q = softmax(-U + sum_m w_m * Filter_m(Q)).
  t0 = Clock::now();
  result.q.assign(n * L, 0.0f);
  float* q = result.q.data();
  parallelFor(threads, static_cast<int64_t>(n), [&](int64_t b, int64_t e) { softmaxRange(negU.data(), L, n, q, b, e); });

  const bool alphaFirst = L > 2;  // the reference slices with its SSE path for > 2 labels
  for (int it = 0; it < in.iterations && nTerms > 0; it++) {
    // Splat + blur, one (label, term) pair per task.
    parallelFor(threads, static_cast<int64_t>(L) * nTerms, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; task++) {
        const int k = static_cast<int>(task / nTerms);
        Kernel& ker = *kernels[task % nTerms];
        const size_t g = static_cast<size_t>(ker.lattice.gridSize());
        float* grid = ker.grid.data() + k * g;
        std::fill(grid, grid + g, 0.0f);
        ker.lattice.splat(grid, q + k * n, ker.normBefore ? ker.norm.data() : nullptr);
        ker.lattice.blur(grid, ker.tmp.data() + k * g, false);
      }
    });
    // Slice, compatibility, softmax, pixel ranges in parallel.
    parallelFor(threads, static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
      std::vector<float> t(static_cast<size_t>(L));
      for (int64_t i = b; i < e; i++) {
        for (int k = 0; k < L; k++) t[k] = negU[k * n + i];
        for (int m = 0; m < nTerms; m++) {
          const Kernel& ker = *kernels[m];
          const int dp1 = ker.lattice.dims() + 1;
          const int32_t* o = ker.lattice.slots() + i * dp1;
          const float* w = ker.lattice.weights() + i * dp1;
          const float alpha = ker.lattice.alpha();
          const size_t g = static_cast<size_t>(ker.lattice.gridSize());
          const float nrm = ker.norm[i];
          for (int k = 0; k < L; k++) {
            const float* grid = ker.grid.data() + k * g;
            float s = 0.0f;
            if (alphaFirst) {
              for (int r = 0; r < dp1; r++) s += (w[r] * alpha) * grid[o[r]];
            } else {
              for (int r = 0; r < dp1; r++) s += w[r] * grid[o[r]] * alpha;
            }
            if (ker.normAfter) s = s * nrm;
            // Potts: the reference subtracts (-w * filtered), i.e. adds w * filtered.
            t[k] = t[k] - (-ker.compat * s);
          }
        }
        if (L <= 256) {
          softmaxInto(t.data(), L, q + i, n);
        } else {
          float mx = t[0];
          for (int k = 1; k < L; k++) mx = std::max(mx, t[k]);
          float sum = 0.0f;
          for (int k = 0; k < L; k++) sum += (t[k] = std::exp(t[k] - mx));
          for (int k = 0; k < L; k++) q[k * n + i] = t[k] / sum;
        }
      }
    });
  }
  result.inferenceMs = msSince(t0);

  result.argmax.assign(n, 0);
  for (size_t i = 0; i < n; i++) {
    int best = 0;
    float bv = q[i];
    for (int k = 1; k < L; k++) {
      if (q[k * n + i] > bv) {
        bv = q[k * n + i];
        best = k;
      }
    }
    result.argmax[i] = best;
  }
  result.totalMs = msSince(start);
  return result;
}

}  // namespace stcn::crf
