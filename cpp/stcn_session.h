// One video being segmented by STCN: the loaded model, the memory bank and the current frame's
// features (all on the model's device). The caller (TypeScript) owns the control flow: which frame
// becomes memory, when objects join, which label each object gets.
//
// Module contract (float32; H, W multiples of 16; h = H/16, w = W/16):
//   encode_key(frame [1,3,H,W])                    -> (k16 [1,64,h,w], f16_thin [1,512,h,w],
//                                                      f16 [1,1024,h,w], f8 [1,512,H/8,W/8], f4 [1,256,H/4,W/4])
//   encode_value(frame, f16, masks [k,1,H,W])      -> values [k,512,h,w]
//   decode(readout [k,512,h,w], f16_thin, f8, f4)  -> probabilities [k,1,H,W] (sigmoid applied)
#pragma once

#include <ATen/ATen.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memory_bank.h"
#include "script_module.h"

namespace stcn {

struct SessionOptions {
  int64_t topK = 20;
  int64_t maxMemoryFrames = 0;  // 0 = unlimited (the official behaviour)
  int64_t memoryBudget = 0;     // cap on the memory bank's bytes (MemoryBank::bytes); 0 = unlimited
  // Working resolution: the shorter side is resized to `size` (long side = floor(size * long / short),
  // as torchvision's Resize(size)), bilinear on the normalised frame; <= 0 keeps the input resolution.
  int64_t size = 480;
  // CUDA autocast (mixed precision, as the official --amp). Refused on CPU.
  bool half = false;
};

// Applies the glibc malloc tuning once per process (docs/architecture.md, "Memory"): large activations
// come from and stay in the heap (M_MMAP_MAX = 0, M_TRIM_THRESHOLD = 1 GiB) instead of being
// unmapped and faulted back in for every frame. Disabled with STCN_MALLOC_TUNING=0. Returns whether
// it was applied.
bool tuneMallocOnce();

// Checks that a module has the three STCN methods (ERR_STCN_MODEL_LOAD otherwise).
void checkStcnModule(const ScriptModule& module);

// The contract probe run at load: one tiny frame (64x64) through encode_key, encode_value and
// decode, checking every output's shape, the fixed channel counts (k16 64, f16_thin 512, values
// 512, probabilities 1), floating dtypes and finite values (probabilities in [0, 1]).
// ERR_STCN_MODEL_CONTRACT naming the method and the broken rule. `half`: under the same autocast as
// the sessions will run.
void probeStcnModule(const ScriptModule& module, bool half);

// Half precision on `device` (bfloat16 autocast on CPU) must be able to run a convolution: oneDNN
// runs bfloat16 convolutions only on CPUs with AVX-512 (BW/VL/DQ), and where it cannot, the first
// frame would fail deep inside encode_key. Probes one tiny convolution with the same dispatch the
// model's will take and refuses with ERR_STCN_DEVICE naming the cause. No-op on CUDA (float16).
void checkHalfPrecision(const c10::Device& device);

// The caller (ts/stcn/tracker.ts) checks every input (sizes, ids, topK) and owns the order of calls;
// the checks below assert those invariants and report a break as ERR_STCN_INTERNAL.
class StcnSession {
 public:
  StcnSession(std::shared_ptr<const ScriptModule> module, const SessionOptions& options);

  // Preprocesses an RGB frame (uint8, HWC) and encodes its key: it becomes the current frame.
  // All frames of a video must have the size of the first one.
  void encodeFrame(const uint8_t* rgb, int64_t width, int64_t height);

  // Memory read + decode + soft aggregation of the tracked objects on the current frame.
  void segment();

  // Adds objects on the current frame from a label map (input resolution): object j of `ids` is
  // the pixels equal to ids[j]. Tracked objects' probabilities are zeroed inside the new objects,
  // then all are soft-aggregated (the official YouTube-VOS "interact"). Frame 0: no tracked objects.
  // A label map whose size differs from the frames is refused unless `resize` (nearest to the
  // working size). Ids without a pixel at the working size are skipped (as the reference, which
  // takes the ids of the resized map). Returns the ids added, in order.
  std::vector<uint8_t> addObjects(const uint8_t* labels, int64_t width, int64_t height, const std::vector<uint8_t>& ids,
                                  bool resize);

  // encode_value on the current frame with the current probabilities, added to the memory bank.
  void memorize(MemoryKind kind);

  // Unpad, bilinear resize to the input size (when a working size is set), argmax over background +
  // objects. `ids` maps channel -> label (ids[0] = background label). When `probs` is given it
  // receives the aggregated probabilities [k+1, height, width] (float32) at output resolution.
  std::vector<uint8_t> labels(const std::vector<uint8_t>& ids, std::vector<float>* probs);

  int64_t objects() const { return objects_; }
  int64_t memoryFrames() const { return memoryFrames_.load(); }
  // The memory bank's bytes (MemoryBank::bytes) after the last memorize; readable while a call runs.
  int64_t memoryBytes() const { return memoryBytes_.load(); }
  int64_t workingWidth() const { return workW_; }
  int64_t workingHeight() const { return workH_; }

 private:
  at::Tensor preprocess(const uint8_t* rgb, int64_t width, int64_t height);
  void requireFrame(const char* what) const;

  std::shared_ptr<const ScriptModule> module_;
  SessionOptions options_;
  MemoryBank bank_;
  std::atomic<int64_t> memoryFrames_{0}, memoryBytes_{0};  // copies of bank_'s, for readers on other threads
  mutable std::mutex mutex_;
  int64_t objects_ = 0;

  // Video geometry (fixed by the first frame).
  int64_t inW_ = 0, inH_ = 0;      // input size
  int64_t workW_ = 0, workH_ = 0;  // working size (before padding)
  int64_t padL_ = 0, padR_ = 0, padT_ = 0, padB_ = 0;

  // Current frame.
  bool hasFrame_ = false;
  at::Tensor image_;  // [1,3,H,W] normalised, padded
  at::Tensor k16_, f16thin_, f16_, f8_, f4_;
  at::Tensor prob_;   // [k+1,1,H,W] aggregated (background first), undefined until segment/addObjects
  at::Tensor staging_;  // pinned host buffer for frames on their way to a CUDA device
};

}  // namespace stcn
