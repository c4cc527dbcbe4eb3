// Detection operators that TorchScript detectors (torchvision's Mask R-CNN, our PointRend export) call
// as `torchvision::nms` and `torchvision::roi_align`. An official LibTorch does not contain them (they
// live in libtorchvision), so the addon registers its own implementations under the same names and
// schemas (torchvision 0.14) when the process does not already have them.
#pragma once

#include <torch/script.h>

#include <string>

namespace stcn {

// Non-maximum suppression, torchvision semantics: `dets` [N,4] (x0,y0,x1,y1), `scores` [N] of the same
// floating dtype; boxes are visited in descending score order (stable: equal scores keep index order),
// a box is dropped when its IoU with an already kept box is > `iouThreshold`. Returns the kept indices
// (int64) in descending score order. N = 0 gives an empty int64 tensor.
at::Tensor nmsCpu(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold);

// RoIAlign forward, torchvision semantics: `input` [B,C,H,W], `rois` [K,5] (batch index, x0,y0,x1,y1) of
// the input's floating dtype. Returns [K,C,pooledHeight,pooledWidth]. `aligned` shifts box coordinates
// by -0.5 pixel (and allows boxes smaller than one pixel); `samplingRatio` <= 0 chooses
// ceil(roi size / pooled size) samples per bin; samples outside [-1, size] contribute zero.
at::Tensor roiAlignCpu(const at::Tensor& input, const at::Tensor& rois, double spatialScale, int64_t pooledHeight,
                       int64_t pooledWidth, int64_t samplingRatio, bool aligned);

// Who provides an operator in this process.
enum class OpProvider {
  Stcn,    // registered by registerDetectionOps (this addon)
  Process  // already present (libtorchvision or another library loaded earlier)
};

struct DetectionOpsStatus {
  OpProvider nms = OpProvider::Stcn;
  OpProvider roiAlign = OpProvider::Stcn;
  bool cudaKernels = false;  // true when CUDA kernels were registered by us (CUDA builds)
};

// Registers torchvision::nms and torchvision::roi_align (CPU kernels; on CUDA builds also CUDA kernels
// that run the CPU implementation on a host copy) unless the dispatcher already knows them. Runs once
// per process (thread-safe); later calls return the first call's status. The registrations live for
// the rest of the process.
const DetectionOpsStatus& registerDetectionOps();

const char* opProviderName(OpProvider provider);

}  // namespace stcn
