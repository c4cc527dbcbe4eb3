// Fully connected CRF with Gaussian edge potentials (Krähenbühl & Koltun 2011), with the semantics
// of the reference `densecrf` code behind pydensecrf's DenseCRF2D: DIAG kernels on 2-D (x/sx, y/sy)
// or 5-D (x/sx, y/sy, R/sr, G/sg, B/sb) features filtered with the permutohedral lattice, Potts
// compatibility (a same-label reward w * Filter(Q)), NO/BEFORE/AFTER/SYMMETRIC normalisation and
// mean-field inference Q = softmax(-U + sum_m w_m Filter_m(Q)).
//
// Pure C++17 (std::thread), no Node or LibTorch headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stcn::crf {

enum class Normalization { None, Before, After, Symmetric };
// "none" | "before" | "after" | "symmetric" (ERR_STCN_ARGUMENT otherwise), and back.
Normalization parseNormalization(const std::string& name);
const char* normalizationName(Normalization normalization);

struct PairwiseTerm {
  enum class Kind { Gaussian, Bilateral };
  // "gaussian" | "bilateral" (ERR_STCN_ARGUMENT otherwise), and back.
  static Kind parseKind(const std::string& name);
  static const char* kindName(Kind kind);
  Kind kind = Kind::Gaussian;
  float sx = 3.0f, sy = 3.0f;                 // spatial standard deviations (pixels), x = column
  float sr = 13.0f, sg = 13.0f, sb = 13.0f;   // colour standard deviations (bilateral only)
  float compat = 3.0f;                        // Potts weight w
  Normalization normalization = Normalization::Symmetric;
};

enum class UnaryKind {
  Labels,         // pydensecrf utils.unary_from_labels(labels, nLabels, gtProb, zeroUnsure)
  Probabilities,  // pydensecrf utils.unary_from_softmax(probabilities, scale, clip)
  Energy,         // U given directly (-log probability), [nLabels][H*W]
};
// "labels" | "probabilities" | "energy" (ERR_STCN_ARGUMENT otherwise), and back.
UnaryKind parseUnaryKind(const std::string& name);
const char* unaryKindName(UnaryKind kind);

struct CrfInput {
  int width = 0;
  int height = 0;
  int nLabels = 0;                 // 1..256
  const uint8_t* image = nullptr;  // H*W*3 RGB (channel order as stored); needed by bilateral terms
  UnaryKind unaryKind = UnaryKind::Labels;
  const uint8_t* labels = nullptr;        // Labels: H*W label values
  double gtProb = 0.5;                    // Labels: probability of the annotated label, in (0, 1)
  bool zeroUnsure = false;                // Labels: 0 = unsure (uniform), labels 1..nLabels
  const float* probabilities = nullptr;   // Probabilities: [nLabels][H*W]
  double clip = 1e-5;                     // Probabilities: clip to [clip, 1] before -log (0 = no clip)
  double scale = 0.0;                     // Probabilities: blend scale*p + (1-scale)/nLabels when in (0, 1]
  const float* energy = nullptr;          // Energy: [nLabels][H*W]
  std::vector<PairwiseTerm> pairwise;
  int iterations = 5;
  int threads = 1;                        // worker threads (capped at 64)
};

struct CrfResult {
  std::vector<float> q;           // [nLabels][H*W], the final marginals
  std::vector<int32_t> argmax;    // H*W, row of Q with the largest value (ties: the first)
  std::vector<int32_t> latticePoints;  // per pairwise term
  double unaryMs = 0, setupMs = 0, inferenceMs = 0, totalMs = 0;
};

// Runs inference. The caller (ts/crf.ts) has checked the input; `input` breaking an invariant (sizes,
// label range, kernel widths) is an internal error (stcn::Error, ErrorCode::Internal).
CrfResult denseCrf(const CrfInput& input);

// The unary energies U [nLabels][H*W] exactly as pydensecrf's helpers compute them (float32).
std::vector<float> computeUnary(const CrfInput& input);

}  // namespace stcn::crf
