#include "stcn_session.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "errors.h"
#include "tensor_util.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace stcn {

bool tuneMallocOnce() {
  static const bool applied = []() {
    const char* env = std::getenv("STCN_MALLOC_TUNING");
    if (env && std::string(env) == "0") return false;
#if defined(__GLIBC__)
    // Large blocks (activations of tens of MiB, 53 MiB for the stride-4 decoder at 480p with two
    // objects) are otherwise mmap'ed per allocation and unmapped on free, so every frame faults
    // them back in. M_MMAP_MAX = 0 serves them from the heap; a large trim threshold keeps freed heap
    // memory for the next frame instead of returning it to the OS. Measured here (4 frames at 480p,
    // 2 objects): system time 1.06 s -> 0.10 s for the same 7.4 s of user time. The price: the
    // process keeps its peak heap.
    const bool a = mallopt(M_MMAP_MAX, 0) == 1;
    const bool b = mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024) == 1;
    return a && b;
#else
    return false;
#endif
  }();
  return applied;
}

// A broken invariant: the tracker checks every input and owns the call order, so this is a bug of ours.
[[noreturn]] static void broken(const std::string& message) { throw Error(ErrorCode::Internal, "internal: " + message); }

void checkStcnModule(const ScriptModule& module) {
  const auto& names = module.methodNames();
  for (const char* method : {"encode_key", "encode_value", "decode"}) {
    if (std::find(names.begin(), names.end(), method) == names.end()) {
      throw Error(ErrorCode::ModelLoad, module.path() + " is not an STCN model: it has no method \"" + method +
                                            "\" (export one with torchscript/export_stcn.py)");
    }
  }
}

void checkHalfPrecision(const c10::Device& device) {
  if (!device.is_cpu()) return;
  try {
    c10::InferenceMode inference;
    const auto options = at::TensorOptions().dtype(at::kBFloat16);
    at::Tensor x = at::zeros({1, 8, 8, 8}, options);
    at::Tensor w = at::zeros({8, 8, 3, 3}, options);
    (void)at::conv2d(x, w, {}, 1, 1);
  } catch (const std::exception& e) {
    // c10::Error from ATen's own device check, or dnnl::error when oneDNN refuses the primitive.
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    std::string reason = c10 ? c10->what_without_backtrace() : e.what();
    reason = reason.substr(0, reason.find('\n'));
    throw Error(ErrorCode::Device, "half precision on CPU (bfloat16) cannot run here: this CPU or its oneDNN build has no bfloat16 convolutions (they need AVX-512 BW/VL/DQ; LibTorch says: " +
                                       reason + "); run in float32 (without --half / half: true)");
  }
}

namespace {

// Autocast (mixed precision) on the calling thread for the guard's lifetime: float16 on CUDA (the
// official --amp), bfloat16 on CPU (oneDNN uses avx512_bf16 / AMX where the CPU has them).
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, const c10::Device& device) : enabled_(enabled), cpu_(device.is_cpu()) {
    if (!enabled_) return;
    if (cpu_) {
      previous_ = at::autocast::is_cpu_enabled();
      previousDtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    } else {
      previous_ = at::autocast::is_enabled();
      at::autocast::set_enabled(true);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cpu_) {
      at::autocast::set_cpu_enabled(previous_);
      at::autocast::set_autocast_cpu_dtype(previousDtype_);
    } else {
      at::autocast::set_enabled(previous_);
    }
  }

 private:
  bool enabled_;
  bool cpu_;
  bool previous_ = false;
  at::ScalarType previousDtype_ = at::kBFloat16;
};

at::Tensor tensorOf(const c10::IValue& value, const char* what) {
  if (!value.isTensor()) throw Error(ErrorCode::Run, std::string(what) + " did not return a tensor");
  return value.toTensor();
}

void expectShape(const at::Tensor& t, std::vector<int64_t> shape, const std::string& what) {
  if (t.sizes() != at::IntArrayRef(shape)) {
    throw Error(ErrorCode::Run, what + " returned shape " + shapeString(t.sizes()) + ", expected " + shapeString(shape) +
                                    " (see the STCN module contract in docs/stcn.md)");
  }
}

// Soft aggregation (docs/stcn-python.md, normative rule 9): probs [k,1,H,W] -> [k+1,1,H,W] with background first.
at::Tensor aggregate(const at::Tensor& probs) {
  at::Tensor p = probs.to(at::kFloat);
  at::Tensor bg = (1 - p).prod(0, /*keepdim=*/true);
  at::Tensor all = at::cat({bg, p}, 0).clamp(1e-7, 1 - 1e-7);
  at::Tensor logits = at::log(all / (1 - all));
  return at::softmax(logits, 0);
}

}  // namespace

namespace {

[[noreturn]] void contract(const ScriptModule& module, const std::string& message) {
  throw Error(ErrorCode::ModelContract, module.path() + " breaks the STCN model contract: " + message +
                                            " (see the STCN module contract in docs/stcn.md)");
}

// A model output: a floating tensor of exactly `shape` (-1: any size) with finite values.
at::Tensor probeOutput(const ScriptModule& module, const c10::IValue& value, const std::vector<int64_t>& shape,
                       const std::string& what) {
  if (!value.isTensor()) contract(module, what + " is not a tensor");
  at::Tensor t = value.toTensor();
  bool ok = t.dim() == static_cast<int64_t>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || t.size(static_cast<int64_t>(i)) == shape[i];
  if (!ok) {
    std::string expected = "[";
    for (size_t i = 0; i < shape.size(); ++i) expected += (i ? "," : "") + (shape[i] < 0 ? std::string("C") : std::to_string(shape[i]));
    contract(module, what + " has shape " + shapeString(t.sizes()) + " on a 64x64 probe frame, expected " + expected + "]");
  }
  if (!at::isFloatingType(t.scalar_type())) contract(module, what + " has dtype " + dtypeName(t.scalar_type()) + ", expected a floating type");
  if (!at::isfinite(t).all().item<bool>()) contract(module, what + " holds NaN or Inf on a 64x64 probe frame");
  return t;
}

}  // namespace

void probeStcnModule(const ScriptModule& module, bool half) {
  c10::InferenceMode inference;
  const c10::Device device = module.device();
  constexpr int64_t S = 64, s = S / 16;
  // A smooth, deterministic normalised frame and one square object.
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor ramp = at::linspace(-2.0, 2.0, S, options);
  at::Tensor image = at::stack({ramp.view({S, 1}).expand({S, S}), ramp.view({1, S}).expand({S, S}), (ramp.view({S, 1}) * ramp.view({1, S})).div(2)}, 0)
                         .unsqueeze(0)
                         .contiguous();
  at::Tensor masks = at::zeros({1, 1, S, S}, options);
  masks.narrow(2, 16, 32).narrow(3, 16, 32).fill_(1);
  AutocastGuard autocast(half, device);
  const c10::IValue keys = module.run("encode_key", {image});
  if (!keys.isTuple() || keys.toTupleRef().elements().size() != 5) {
    contract(module, "encode_key must return a tuple of 5 tensors (k16, f16_thin, f16, f8, f4)");
  }
  const auto& e = keys.toTupleRef().elements();
  const at::Tensor k16 = probeOutput(module, e[0], {1, 64, s, s}, "encode_key's k16");
  const at::Tensor f16thin = probeOutput(module, e[1], {1, 512, s, s}, "encode_key's f16_thin");
  const at::Tensor f16 = probeOutput(module, e[2], {1, -1, s, s}, "encode_key's f16");
  const at::Tensor f8 = probeOutput(module, e[3], {1, -1, S / 8, S / 8}, "encode_key's f8");
  const at::Tensor f4 = probeOutput(module, e[4], {1, -1, S / 4, S / 4}, "encode_key's f4");
  (void)k16;
  const at::Tensor values = probeOutput(module, module.run("encode_value", {image, f16, masks}), {1, 512, s, s}, "encode_value");
  const at::Tensor probs =
      probeOutput(module, module.run("decode", {values.to(f16thin.scalar_type()), f16thin, f8, f4}), {1, 1, S, S}, "decode");
  if (!(probs.min().item<double>() >= 0.0 && probs.max().item<double>() <= 1.0)) {
    contract(module, "decode's probabilities are outside [0, 1] (the sigmoid must be applied)");
  }
}

StcnSession::StcnSession(std::shared_ptr<const ScriptModule> module, const SessionOptions& options)
    : module_(std::move(module)), options_(options), bank_(options.maxMemoryFrames, options.memoryBudget) {
  if (!module_) throw Error(ErrorCode::Disposed, "STCN model was disposed");
  if (options_.topK < 1) broken("topK must be >= 1, got " + std::to_string(options_.topK));
  if (options_.maxMemoryFrames < 0) {
    broken("maxMemoryFrames must be >= 0, got " + std::to_string(options_.maxMemoryFrames));
  }
  if (options_.memoryBudget < 0) broken("memoryBudget must be >= 0, got " + std::to_string(options_.memoryBudget));
  checkStcnModule(*module_);
  tuneMallocOnce();
}

void StcnSession::requireFrame(const char* what) const {
  if (!hasFrame_) broken(std::string(what) + ": no current frame (call encodeFrame first)");
}

at::Tensor StcnSession::preprocess(const uint8_t* rgb, int64_t width, int64_t height) {
  if (width < 1 || height < 1) {
    broken("frame size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
  }
  if (inW_ == 0) {
    inW_ = width;
    inH_ = height;
    if (options_.size > 0) {
      // torchvision Resize(int): the shorter side becomes `size`, the longer floor(size * long / short).
      if (width <= height) {
        workW_ = options_.size;
        workH_ = options_.size * height / width;
      } else {
        workH_ = options_.size;
        workW_ = options_.size * width / height;
      }
    } else {
      workW_ = width;
      workH_ = height;
    }
    const int64_t padH = (16 - workH_ % 16) % 16, padW = (16 - workW_ % 16) % 16;
    padT_ = padH / 2;
    padB_ = padH - padT_;
    padL_ = padW / 2;
    padR_ = padW - padL_;
  } else if (width != inW_ || height != inH_) {
    broken("frame is " + std::to_string(width) + "x" + std::to_string(height) +
                                         " but the video's first frame is " + std::to_string(inW_) + "x" + std::to_string(inH_));
  }
  const c10::Device device = module_->device();
  at::Tensor bytes = at::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, at::kByte);
  if (!device.is_cpu()) {
    // The frame goes to the device from pinned (page-locked) host memory: a DMA copy. Frames that
    // are not pinned already (the addon's come from JavaScript memory) pass through a reused
    // pinned staging buffer.
    if (!at::detail::getCUDAHooks().isPinnedPtr(const_cast<uint8_t*>(rgb))) {
      if (!staging_.defined() || staging_.numel() != bytes.numel()) {
        staging_ = at::empty({height, width, 3}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
      }
      staging_.copy_(bytes);
      bytes = staging_;
    }
    bytes = bytes.to(device);
  }
  at::Tensor x = bytes.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div_(255);
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}, x.options()).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f}, x.options()).view({1, 3, 1, 1});
  x = (x - mean) / std;
  if (workW_ != inW_ || workH_ != inH_) {
    // Bilinear (align_corners=False, no antialias) on the normalised tensor.
    x = at::upsample_bilinear2d(x, {workH_, workW_}, /*align_corners=*/false);
  }
  if (padL_ + padR_ + padT_ + padB_ > 0) x = at::constant_pad_nd(x, {padL_, padR_, padT_, padB_}, 0);
  return x.contiguous();
}

void StcnSession::encodeFrame(const uint8_t* rgb, int64_t width, int64_t height) {
  std::lock_guard<std::mutex> lock(mutex_);
  c10::InferenceMode inference;
  at::Tensor image = preprocess(rgb, width, height);
  c10::IValue out;
  {
    AutocastGuard autocast(options_.half, module_->device());
    out = module_->run("encode_key", {image});
  }
  if (!out.isTuple() || out.toTupleRef().elements().size() != 5) {
    throw Error(ErrorCode::Run, "encode_key must return 5 tensors (k16, f16_thin, f16, f8, f4)");
  }
  const auto& e = out.toTupleRef().elements();
  const int64_t H = image.size(2), W = image.size(3);
  k16_ = tensorOf(e[0], "encode_key");
  f16thin_ = tensorOf(e[1], "encode_key");
  f16_ = tensorOf(e[2], "encode_key");
  f8_ = tensorOf(e[3], "encode_key");
  f4_ = tensorOf(e[4], "encode_key");
  expectShape(k16_, {1, 64, H / 16, W / 16}, "encode_key (k16)");
  expectShape(f16thin_, {1, 512, H / 16, W / 16}, "encode_key (f16_thin)");
  expectShape(f16_, {1, f16_.size(1), H / 16, W / 16}, "encode_key (f16)");
  expectShape(f8_, {1, f8_.size(1), H / 8, W / 8}, "encode_key (f8)");
  expectShape(f4_, {1, f4_.size(1), H / 4, W / 4}, "encode_key (f4)");
  image_ = image;
  prob_ = at::Tensor();
  hasFrame_ = true;
}

void StcnSession::segment() {
  std::lock_guard<std::mutex> lock(mutex_);
  requireFrame("segment");
  if (objects_ == 0) broken("segment: no objects are tracked yet");
  c10::InferenceMode inference;
  // The memory read stays in float32 (affinities and the top-k softmax are precision-sensitive);
  // under mixed precision the readout then takes f16_thin's dtype, as the decoder concatenates them.
  at::Tensor readout = bank_.read(k16_, options_.topK).to(f16thin_.scalar_type());
  at::Tensor probs;
  {
    AutocastGuard autocast(options_.half, module_->device());
    probs = tensorOf(module_->run("decode", {readout, f16thin_, f8_, f4_}), "decode");
  }
  expectShape(probs, {objects_, 1, image_.size(2), image_.size(3)}, "decode");
  // NaN/Inf would silently become some label through argmax: a result, not a label map, is wrong.
  if (!at::isfinite(probs).all().item<bool>()) {
    throw Error(ErrorCode::ModelContract, "decode returned NaN or Inf probabilities (" + module_->path() + ")");
  }
  prob_ = aggregate(probs);
}

std::vector<uint8_t> StcnSession::addObjects(const uint8_t* labels, int64_t width, int64_t height,
                                             const std::vector<uint8_t>& ids, bool resize) {
  std::lock_guard<std::mutex> lock(mutex_);
  requireFrame("addObjects");
  if ((width != inW_ || height != inH_) && !resize) {
    broken("mask is " + std::to_string(width) + "x" + std::to_string(height) +
                                         " but the frames are " + std::to_string(inW_) + "x" + std::to_string(inH_));
  }
  if (ids.empty()) broken("addObjects: no object ids");
  if (objects_ > 0 && !prob_.defined()) {
    broken("addObjects: objects are tracked but the current frame was not segmented");
  }
  c10::InferenceMode inference;
  const c10::Device device = module_->device();
  at::Tensor map = at::from_blob(const_cast<uint8_t*>(labels), {height, width}, at::kByte);
  map = device.is_cpu() ? map.clone() : map.to(device);
  std::vector<at::Tensor> masks;
  for (uint8_t id : ids) masks.push_back(map.eq(id));
  at::Tensor fresh = at::stack(masks, 0).unsqueeze(1).to(at::kFloat);  // [n,1,h,w]
  if (workW_ != width || workH_ != height) {
    // Nearest (F.interpolate mode "nearest") of the masks to the working size.
    fresh = at::upsample_nearest2d(fresh, {workH_, workW_});
  }
  // Objects too small to survive the resize are not added.
  const at::Tensor present = fresh.amax({1, 2, 3}).gt(0).to(at::kCPU);
  std::vector<uint8_t> kept;
  std::vector<int64_t> keptIndex;
  for (size_t j = 0; j < ids.size(); ++j) {
    if (present[static_cast<int64_t>(j)].item<bool>()) {
      kept.push_back(ids[j]);
      keptIndex.push_back(static_cast<int64_t>(j));
    }
  }
  if (kept.empty()) return kept;
  if (kept.size() != ids.size()) {
    fresh = fresh.index_select(0, at::tensor(keptIndex, at::TensorOptions().dtype(at::kLong)).to(fresh.device()));
  }
  if (padL_ + padR_ + padT_ + padB_ > 0) fresh = at::constant_pad_nd(fresh, {padL_, padR_, padT_, padB_}, 0);

  at::Tensor objectsProb;
  if (objects_ > 0) {
    const at::Tensor region = fresh.sum(0, /*keepdim=*/true).gt(0.5);  // [1,1,H,W]
    objectsProb = at::cat({prob_.narrow(0, 1, objects_).masked_fill(region, 0), fresh}, 0);
  } else {
    objectsProb = fresh;
  }
  prob_ = aggregate(objectsProb);
  objects_ += static_cast<int64_t>(kept.size());
  return kept;
}

void StcnSession::memorize(MemoryKind kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  requireFrame("memorize");
  if (!prob_.defined()) broken("memorize: the current frame has no probabilities yet");
  c10::InferenceMode inference;
  at::Tensor masks = prob_.narrow(0, 1, objects_);
  at::Tensor values;
  {
    AutocastGuard autocast(options_.half, module_->device());
    values = tensorOf(module_->run("encode_value", {image_, f16_, masks}), "encode_value");
  }
  expectShape(values, {objects_, 512, k16_.size(2), k16_.size(3)}, "encode_value");
  bank_.add(k16_, values, kind);
  memoryFrames_ = bank_.frames();
  memoryBytes_ = bank_.bytes();
}

std::vector<uint8_t> StcnSession::labels(const std::vector<uint8_t>& ids, std::vector<float>* probs) {
  std::lock_guard<std::mutex> lock(mutex_);
  requireFrame("labels");
  if (!prob_.defined()) broken("labels: the current frame has no probabilities yet");
  if (static_cast<int64_t>(ids.size()) != objects_ + 1) {
    broken("labels: " + std::to_string(ids.size()) + " ids for " + std::to_string(objects_) +
                                         " objects (+ background)");
  }
  c10::InferenceMode inference;
  at::Tensor p = prob_;
  const int64_t H = p.size(2), W = p.size(3);
  if (padT_ + padB_ > 0) p = p.narrow(2, padT_, H - padT_ - padB_);
  if (padL_ + padR_ > 0) p = p.narrow(3, padL_, W - padL_ - padR_);
  if (workW_ != inW_ || workH_ != inH_) p = at::upsample_bilinear2d(p, {inH_, inW_}, /*align_corners=*/false);
  p = p.squeeze(1);  // [k+1, h, w]
  at::Tensor index = p.argmax(0);
  at::Tensor table = at::from_blob(const_cast<uint8_t*>(ids.data()), {static_cast<int64_t>(ids.size())}, at::kByte).to(p.device());
  at::Tensor out = table.index_select(0, index.reshape({-1})).to(at::kCPU).contiguous();
  std::vector<uint8_t> result(static_cast<size_t>(out.numel()));
  std::memcpy(result.data(), out.data_ptr<uint8_t>(), result.size());
  if (probs) {
    at::Tensor host = p.to(at::kCPU, at::kFloat).contiguous();
    probs->resize(static_cast<size_t>(host.numel()));
    std::memcpy(probs->data(), host.data_ptr<float>(), probs->size() * sizeof(float));
  }
  return result;
}

}  // namespace stcn
