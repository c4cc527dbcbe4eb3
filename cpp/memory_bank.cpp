#include "memory_bank.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "enum_names.h"
#include "errors.h"
#include "tensor_util.h"

namespace stcn {

constexpr EnumName<MemoryKind> kMemoryKinds[] = {
    {"permanent", MemoryKind::Permanent}, {"regular", MemoryKind::Regular}, {"temporary", MemoryKind::Temporary}};

MemoryKind parseMemoryKind(const std::string& name) { return parseEnum(name, kMemoryKinds, "memory kind"); }
const char* memoryKindName(MemoryKind kind) { return enumName(kind, kMemoryKinds); }

static int64_t payloadBytes(const at::Tensor& t) { return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()); }

void MemoryBank::dropCache() {
  dirty_ = true;
  keys_ = at::Tensor();
  keySq_ = at::Tensor();
  groups_.clear();
}

void MemoryBank::clear() {
  frames_.clear();
  objectStart_.clear();
  nextSerial_ = 0;
  storedBytes_ = 0;
  positions_ = 0;
  framePositions_ = 0;
  dropCache();
}

void MemoryBank::forget(std::deque<Frame>::iterator frame) {
  storedBytes_ -= payloadBytes(frame->key) + payloadBytes(frame->values);
  positions_ -= frame->key.size(1);
  frames_.erase(frame);
  if (frames_.empty()) framePositions_ = 0;
}

void MemoryBank::add(const at::Tensor& keyIn, const at::Tensor& valuesIn, MemoryKind kind) {
  at::Tensor key = keyIn.dim() == 4 ? keyIn.squeeze(0) : keyIn;
  if (key.dim() != 3) throw Error(ErrorCode::Argument, "memory key must be [1, C, h, w], got " + shapeString(keyIn.sizes()));
  if (valuesIn.dim() != 4) throw Error(ErrorCode::Argument, "memory values must be [k, C, h, w], got " + shapeString(valuesIn.sizes()));
  const int64_t k = valuesIn.size(0);
  if (k < objects()) {
    throw Error(ErrorCode::Argument, "memory values hold " + std::to_string(k) + " objects but the bank already has " +
                                         std::to_string(objects()));
  }
  if (valuesIn.size(2) != key.size(1) || valuesIn.size(3) != key.size(2)) {
    throw Error(ErrorCode::Argument, "memory key " + shapeString(keyIn.sizes()) + " and values " +
                                         shapeString(valuesIn.sizes()) + " differ in size");
  }
  if (!frames_.empty()) {
    const Frame& first = frames_.front();
    if (first.key.size(0) != key.size(0) || first.key.size(1) != key.size(1) * key.size(2) ||
        first.values.size(2) != valuesIn.size(1)) {
      throw Error(ErrorCode::Argument, "memory frame " + shapeString(valuesIn.sizes()) + " does not match the bank's frames");
    }
  }
  // The official bank resets its temporary slot at every add.
  if (!frames_.empty() && frames_.back().kind == MemoryKind::Temporary) forget(std::prev(frames_.end()));
  // The read concatenations are stale from here on: free them now rather than at the next read, so
  // that they and the new frame are never held together with the old ones.
  dropCache();

  Frame frame;
  frame.serial = nextSerial_++;
  frame.kind = kind;
  const int64_t hw = key.size(1) * key.size(2);
  frame.key = key.reshape({key.size(0), hw}).to(at::kFloat).contiguous();
  frame.values = valuesIn.reshape({k, valuesIn.size(1), hw}).transpose(1, 2).contiguous();
  while (objects() < k) objectStart_.push_back(frame.serial);
  storedBytes_ += payloadBytes(frame.key) + payloadBytes(frame.values);
  positions_ += hw;
  framePositions_ = hw;
  frames_.push_back(std::move(frame));
  enforceCap();
}

void MemoryBank::enforceCap() {
  auto counted = [&]() {
    int64_t n = 0;
    for (const auto& f : frames_) n += f.kind != MemoryKind::Temporary;
    return n;
  };
  auto isRegular = [](const Frame& f) { return f.kind == MemoryKind::Regular; };
  if (maxFrames_ > 0) {
    while (counted() > maxFrames_) {
      auto oldest = std::find_if(frames_.begin(), frames_.end(), isRegular);
      if (oldest == frames_.end()) break;  // only permanent frames left: keep them
      forget(oldest);
    }
  }
  if (maxBytes_ > 0) {
    // The byte cap never drops the frame just added (the newest memory is what the next frame reads most).
    while (bytes() > maxBytes_ && frames_.size() > 1) {
      auto last = std::prev(frames_.end());
      auto oldest = std::find_if(frames_.begin(), last, isRegular);
      if (oldest == last) break;  // only permanent frames and the newest left: keep them
      forget(oldest);
    }
  }
}

void MemoryBank::rebuild() const {
  if (!dirty_) return;
  std::vector<at::Tensor> keys;
  std::vector<int64_t> offsets;  // memory position of each frame
  int64_t n = 0;
  for (const auto& f : frames_) {
    offsets.push_back(n);
    keys.push_back(f.key);
    n += f.key.size(1);
  }
  keys_ = at::cat(keys, 1).t().contiguous();  // [N, CK]
  keySq_ = keys_.pow(2).sum(1);               // [N]

  groups_.clear();
  const int64_t objectCount = objects();
  int64_t object = 0;
  while (object < objectCount) {
    Group group;
    group.firstObject = object;
    const uint64_t start = objectStart_[object];
    while (object < objectCount && objectStart_[object] == start) ++object;
    group.count = object - group.firstObject;
    size_t firstFrame = 0;
    while (firstFrame < frames_.size() && frames_[firstFrame].serial < start) ++firstFrame;
    if (firstFrame == frames_.size()) throw Error(ErrorCode::Internal, "memory bank lost an object's frames");
    group.offset = offsets[firstFrame];
    std::vector<at::Tensor> values;
    for (size_t f = firstFrame; f < frames_.size(); ++f) {
      values.push_back(frames_[f].values.narrow(0, group.firstObject, group.count));
    }
    group.values = at::cat(values, 1).contiguous();  // [count, N - offset, CV]
    groups_.push_back(std::move(group));
  }
  dirty_ = false;
}

// out[o, p, :] = sum_t weights[p, t] * values[o, index[p, t], :]   (CPU, float32)
static void readoutCpu(const at::Tensor& values, const at::Tensor& weights, const at::Tensor& index, at::Tensor& out) {
  const int64_t count = values.size(0), n = values.size(1), cv = values.size(2);
  const int64_t positions = weights.size(0), k = weights.size(1);
  const float* v = values.data_ptr<float>();
  const float* w = weights.data_ptr<float>();
  const int64_t* idx = index.data_ptr<int64_t>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, count * positions, 16, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t object = job / positions, p = job % positions;
      float* dst = o + (object * positions + p) * cv;
      std::fill(dst, dst + cv, 0.0f);
      for (int64_t t = 0; t < k; ++t) {
        const float weight = w[p * k + t];
        const float* src = v + (object * n + idx[p * k + t]) * cv;
        for (int64_t c = 0; c < cv; ++c) dst[c] += weight * src[c];
      }
    }
  });
}

at::Tensor MemoryBank::read(const at::Tensor& queryIn, int64_t topK) const {
  if (frames_.empty()) throw Error(ErrorCode::Argument, "memory read on an empty memory bank");
  rebuild();
  at::Tensor query = queryIn.dim() == 4 ? queryIn.squeeze(0) : queryIn;
  const int64_t ck = query.size(0), h = query.size(1), w = query.size(2), hw = h * w;
  if (ck != keys_.size(1) || hw != frames_.front().key.size(1)) {
    throw Error(ErrorCode::Argument, "query key " + shapeString(queryIn.sizes()) + " does not match the memory keys");
  }
  const at::Tensor q = query.reshape({ck, hw}).to(at::kFloat);
  // affinity [HW, N] = (2 q^T m - |m|^2) / sqrt(CK); the |q|^2 term is constant along the softmax axis.
  at::Tensor affinity = at::mm(q.t(), keys_.t());
  affinity.mul_(2).sub_(keySq_.unsqueeze(0)).div_(std::sqrt(static_cast<double>(ck)));

  const at::Tensor& anyValues = groups_.front().values;
  const int64_t cv = anyValues.size(2);
  at::Tensor out = at::empty({objects(), hw, cv}, anyValues.options());
  for (const Group& group : groups_) {
    at::Tensor aff = group.offset ? affinity.narrow(1, group.offset, affinity.size(1) - group.offset) : affinity;
    const int64_t k = std::min<int64_t>(topK, aff.size(1));
    auto top = at::topk(aff, k, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
    at::Tensor weights = at::softmax(std::get<0>(top), 1).contiguous();  // stable (max subtracted)
    at::Tensor index = std::get<1>(top).contiguous();                     // [HW, k] into the group's positions
    at::Tensor slice = out.narrow(0, group.firstObject, group.count);
    if (group.values.device().is_cpu() && group.values.scalar_type() == at::kFloat) {
      at::Tensor dst = slice.is_contiguous() ? slice : at::empty_like(slice);
      readoutCpu(group.values, weights, index, dst);
      if (!slice.is_contiguous()) slice.copy_(dst);
    } else {
      // [count, HW*k, CV] gathered rows, weighted and summed over k.
      at::Tensor gathered = group.values.index_select(1, index.reshape({-1})).view({group.count, hw, k, cv});
      slice.copy_((gathered * weights.to(gathered.scalar_type()).view({1, hw, k, 1})).sum(2));
    }
  }
  // [k, HW, CV] -> [k, CV, h, w]
  return out.transpose(1, 2).reshape({objects(), cv, h, w});
}

}  // namespace stcn
