// STCN memory bank and memory read (docs/stcn-python.md, normative rules 10-11), owned natively for the
// whole video.
//
// Keys are object-agnostic: one key (64 x h x w) per memory frame. Values are per object
// (512 x h x w per object per frame). Objects may join later in the video: an object's values start
// at the frame where it joined, so its reads only see memory frames from that frame on (the same as
// a per-object memory bank that starts at the join frame, but the affinity is computed once for all
// objects).
//
// read(): affinity = (2 m^T q - |m|^2) / sqrt(64) over the memory axis, top-k per query position,
// numerically stable softmax over the k values (max subtracted: identical to the official exp/sum
// in fp32 without its fp16 overflow), readout = sum over the top-k entries of weight x value.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace stcn {

enum class MemoryKind {
  Permanent,  // never dropped by the frame cap (frame 0, frames where objects join)
  Regular,    // memory frame (every memEvery-th frame); the oldest goes first when the cap is hit
  Temporary,  // the official "temp" slot: replaced by (cleared at) the next add
};
// "permanent" | "regular" | "temporary" (ERR_STCN_ARGUMENT otherwise), and back.
MemoryKind parseMemoryKind(const std::string& name);
const char* memoryKindName(MemoryKind kind);

class MemoryBank {
 public:
  // maxFrames: cap on memory frames (0 = unlimited). Temporary frames do not count.
  // maxBytes: cap on bytes() (0 = unlimited). Past either cap the oldest Regular frame goes first;
  // permanent frames and the frame just added are never dropped, so bytes() can stay above maxBytes
  // only when nothing else is left to drop (the caller reports that).
  explicit MemoryBank(int64_t maxFrames = 0, int64_t maxBytes = 0) : maxFrames_(maxFrames), maxBytes_(maxBytes) {}

  // key: [1, CK, h, w] or [CK, h, w]; values: [k, CV, h, w] with k >= objects() (objects in the
  // same order as before; the extra ones join at this frame). Clears any temporary frame first.
  void add(const at::Tensor& key, const at::Tensor& values, MemoryKind kind);

  // query: [1, CK, h, w] -> readout [objects(), CV, h, w] (dtype of the values).
  at::Tensor read(const at::Tensor& query, int64_t topK) const;

  int64_t frames() const { return static_cast<int64_t>(frames_.size()); }
  int64_t objects() const { return static_cast<int64_t>(objectStart_.size()); }
  // Bytes the bank holds at its peak, which is during a read: the stored frames (keys and values),
  // the concatenations a read builds from them (the same bytes again, plus |m|^2: 4 bytes per memory
  // position) and the read's float32 affinity [query positions, memory positions] (4 x hw bytes per
  // memory position, hw = positions of one frame). All three grow with the number of memory frames;
  // the budget bounds them together. Exact for the tensors' payloads; allocator overhead is not counted.
  int64_t bytes() const { return 2 * storedBytes_ + 4 * positions_ * (1 + framePositions_); }
  void clear();

 private:
  struct Frame {
    uint64_t serial;     // increasing per added frame (identifies an object's first frame)
    at::Tensor key;      // [CK, hw]
    at::Tensor values;   // [k_frame, hw, CV] (position-major: one row per memory position)
    MemoryKind kind;
  };
  void enforceCap();
  void rebuild() const;

  void forget(std::deque<Frame>::iterator frame);
  void dropCache();

  int64_t maxFrames_;
  int64_t maxBytes_;
  int64_t storedBytes_ = 0;  // keys + values of frames_
  int64_t positions_ = 0;    // memory positions (sum of h*w over frames_)
  int64_t framePositions_ = 0;  // h*w of one frame (every frame of a bank has the same), 0 when empty
  uint64_t nextSerial_ = 0;
  std::deque<Frame> frames_;
  std::vector<uint64_t> objectStart_;  // serial of each object's first memory frame

  // Concatenations for reading, rebuilt lazily after a change.
  mutable bool dirty_ = true;
  mutable at::Tensor keys_;        // [N, CK] (float32)
  mutable at::Tensor keySq_;       // [N] = |m|^2
  struct Group {
    int64_t firstObject = 0, count = 0;  // objects [firstObject, firstObject + count)
    int64_t offset = 0;                  // first memory position they see
    at::Tensor values;                   // [count, N - offset, CV]
  };
  mutable std::vector<Group> groups_;
};

}  // namespace stcn
