#include "detection_ops.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

namespace stcn {

namespace {

// ---------------------------------------------------------------------------------------------------
// NMS

template <typename T>
at::Tensor nmsImpl(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold) {
  const int64_t n = dets.size(0);
  const at::Tensor boxes = dets.contiguous();
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const int64_t* ord = order.data_ptr<int64_t>();
  const T* b = boxes.data_ptr<T>();

  // Coordinates gathered in score order (structure of arrays): the inner loop reads memory
  // sequentially. Same arithmetic as torchvision, so the same boxes survive.
  std::vector<T> x0(n), y0(n), x1(n), y1(n), area(n);
  for (int64_t a = 0; a < n; ++a) {
    const T* box = b + ord[a] * 4;
    x0[a] = box[0];
    y0[a] = box[1];
    x1[a] = box[2];
    y1[a] = box[3];
    area[a] = (x1[a] - x0[a]) * (y1[a] - y0[a]);
  }

  std::vector<uint8_t> removed(static_cast<size_t>(n), 0);
  at::Tensor keep = at::empty({n}, dets.options().dtype(at::kLong));
  int64_t* kept = keep.data_ptr<int64_t>();
  int64_t count = 0;
  for (int64_t a = 0; a < n; ++a) {
    if (removed[a]) continue;
    kept[count++] = ord[a];
    const T ix0 = x0[a], iy0 = y0[a], ix1 = x1[a], iy1 = y1[a], iarea = area[a];
    for (int64_t c = a + 1; c < n; ++c) {
      if (removed[c]) continue;
      const T w = std::max(static_cast<T>(0), std::min(ix1, x1[c]) - std::max(ix0, x0[c]));
      const T h = std::max(static_cast<T>(0), std::min(iy1, y1[c]) - std::max(iy0, y0[c]));
      const T inter = w * h;
      const T iou = inter / (iarea + area[c] - inter);
      if (iou > iouThreshold) removed[c] = 1;
    }
  }
  return keep.narrow(0, 0, count);
}

// ---------------------------------------------------------------------------------------------------
// RoIAlign

template <typename T>
struct Sample {
  int64_t p1, p2, p3, p4;
  T w1, w2, w3, w4;
};

// Bilinear sampling weights of every sample point of one RoI, in (ph, pw, iy, ix) order.
template <typename T>
void sampleWeights(int64_t height, int64_t width, int64_t pooledHeight, int64_t pooledWidth, T roiStartH, T roiStartW,
                   T binH, T binW, int64_t gridH, int64_t gridW, std::vector<Sample<T>>& out) {
  size_t k = 0;
  for (int64_t ph = 0; ph < pooledHeight; ++ph) {
    for (int64_t pw = 0; pw < pooledWidth; ++pw) {
      for (int64_t iy = 0; iy < gridH; ++iy) {
        const T yy = roiStartH + static_cast<T>(ph) * binH +
                     static_cast<T>(static_cast<float>(iy) + .5f) * binH / static_cast<T>(gridH);
        for (int64_t ix = 0; ix < gridW; ++ix) {
          const T xx = roiStartW + static_cast<T>(pw) * binW +
                       static_cast<T>(static_cast<float>(ix) + .5f) * binW / static_cast<T>(gridW);
          Sample<T>& s = out[k++];
          T y = yy;
          T x = xx;
          // Outside the feature map (beyond one pixel of margin): contributes nothing.
          if (y < -1.0 || y > static_cast<T>(height) || x < -1.0 || x > static_cast<T>(width)) {
            s = Sample<T>{0, 0, 0, 0, static_cast<T>(0), static_cast<T>(0), static_cast<T>(0), static_cast<T>(0)};
            continue;
          }
          if (y <= 0) y = 0;
          if (x <= 0) x = 0;
          int64_t yLow = static_cast<int64_t>(y);
          int64_t xLow = static_cast<int64_t>(x);
          int64_t yHigh, xHigh;
          if (yLow >= height - 1) {
            yHigh = yLow = height - 1;
            y = static_cast<T>(yLow);
          } else {
            yHigh = yLow + 1;
          }
          if (xLow >= width - 1) {
            xHigh = xLow = width - 1;
            x = static_cast<T>(xLow);
          } else {
            xHigh = xLow + 1;
          }
          const T ly = y - static_cast<T>(yLow);
          const T lx = x - static_cast<T>(xLow);
          const T hy = static_cast<T>(1.) - ly;
          const T hx = static_cast<T>(1.) - lx;
          s.p1 = yLow * width + xLow;
          s.p2 = yLow * width + xHigh;
          s.p3 = yHigh * width + xLow;
          s.p4 = yHigh * width + xHigh;
          s.w1 = hy * hx;
          s.w2 = hy * lx;
          s.w3 = ly * hx;
          s.w4 = ly * lx;
        }
      }
    }
  }
}

template <typename T>
void roiAlignImpl(const at::Tensor& input, const at::Tensor& rois, at::Tensor& output, double spatialScale,
                  int64_t pooledHeight, int64_t pooledWidth, int64_t samplingRatio, bool aligned) {
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  const int64_t numRois = rois.size(0);
  const T* data = input.data_ptr<T>();
  const T* roiData = rois.data_ptr<T>();
  T* outData = output.data_ptr<T>();
  const T scale = static_cast<T>(spatialScale);
  const T offset = aligned ? static_cast<T>(0.5) : static_cast<T>(0.0);

  // Every RoI is independent: parallel over RoIs gives the same values as a serial loop.
  at::parallel_for(0, numRois, 1, [&](int64_t begin, int64_t end) {
    std::vector<Sample<T>> samples;
    for (int64_t n = begin; n < end; ++n) {
      const T* r = roiData + n * 5;
      const int64_t b = static_cast<int64_t>(r[0]);
      // torchvision reads out of bounds here; we refuse instead.
      TORCH_CHECK(b >= 0 && b < batch, "roi_align: RoI ", n, " has batch index ", b, " outside [0, ", batch, ")");
      const T roiStartW = r[1] * scale - offset;
      const T roiStartH = r[2] * scale - offset;
      const T roiEndW = r[3] * scale - offset;
      const T roiEndH = r[4] * scale - offset;
      T roiWidth = roiEndW - roiStartW;
      T roiHeight = roiEndH - roiStartH;
      if (!aligned) {
        // Legacy behaviour: RoIs are at least one pixel.
        roiWidth = std::max(roiWidth, static_cast<T>(1.));
        roiHeight = std::max(roiHeight, static_cast<T>(1.));
      }
      const T binH = roiHeight / static_cast<T>(pooledHeight);
      const T binW = roiWidth / static_cast<T>(pooledWidth);
      const int64_t gridH =
          samplingRatio > 0 ? samplingRatio : static_cast<int64_t>(std::ceil(static_cast<double>(roiHeight / static_cast<T>(pooledHeight))));
      const int64_t gridW =
          samplingRatio > 0 ? samplingRatio : static_cast<int64_t>(std::ceil(static_cast<double>(roiWidth / static_cast<T>(pooledWidth))));
      const T count = static_cast<T>(std::max<int64_t>(gridH * gridW, 1));

      samples.resize(static_cast<size_t>(std::max<int64_t>(pooledHeight * pooledWidth * gridH * gridW, 0)));
      sampleWeights<T>(height, width, pooledHeight, pooledWidth, roiStartH, roiStartW, binH, binW, gridH, gridW, samples);

      for (int64_t c = 0; c < channels; ++c) {
        const T* plane = data + (b * channels + c) * height * width;
        T* outPlane = outData + (n * channels + c) * pooledHeight * pooledWidth;
        size_t k = 0;
        for (int64_t ph = 0; ph < pooledHeight; ++ph) {
          for (int64_t pw = 0; pw < pooledWidth; ++pw) {
            T value = 0;
            for (int64_t iy = 0; iy < gridH; ++iy) {
              for (int64_t ix = 0; ix < gridW; ++ix) {
                const Sample<T>& s = samples[k++];
                value += s.w1 * plane[s.p1] + s.w2 * plane[s.p2] + s.w3 * plane[s.p3] + s.w4 * plane[s.p4];
              }
            }
            value /= count;
            outPlane[ph * pooledWidth + pw] = value;
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Dispatcher entry points (schemas of torchvision 0.14)

at::Tensor nmsKernel(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold) { return nmsCpu(dets, scores, iouThreshold); }

at::Tensor roiAlignKernel(const at::Tensor& input, const at::Tensor& rois, double spatialScale, int64_t pooledHeight,
                          int64_t pooledWidth, int64_t samplingRatio, bool aligned) {
  return roiAlignCpu(input, rois, spatialScale, pooledHeight, pooledWidth, samplingRatio, aligned);
}

#ifdef STCN_WITH_CUDA
// CUDA tensors: the CPU implementation on host copies (correct, not fast; no CUDA kernels are written).
at::Tensor nmsCudaViaHost(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold) {
  return nmsCpu(dets.cpu(), scores.cpu(), iouThreshold).to(dets.device());
}

at::Tensor roiAlignCudaViaHost(const at::Tensor& input, const at::Tensor& rois, double spatialScale, int64_t pooledHeight,
                               int64_t pooledWidth, int64_t samplingRatio, bool aligned) {
  return roiAlignCpu(input.cpu(), rois.cpu(), spatialScale, pooledHeight, pooledWidth, samplingRatio, aligned)
      .to(input.device());
}
#endif

constexpr const char* kNmsSchema = "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor";
constexpr const char* kRoiAlignSchema =
    "roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height, int pooled_width, "
    "int sampling_ratio, bool aligned) -> Tensor";

}  // namespace

at::Tensor nmsCpu(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold) {
  TORCH_CHECK(dets.device().is_cpu(), "nms: dets must be a CPU tensor, got ", dets.device());
  TORCH_CHECK(scores.device().is_cpu(), "nms: scores must be a CPU tensor, got ", scores.device());
  TORCH_CHECK(dets.dim() == 2, "nms: boxes should be a 2d tensor, got ", dets.dim(), "D");
  TORCH_CHECK(dets.size(1) == 4, "nms: boxes should have 4 elements in dimension 1, got ", dets.size(1));
  TORCH_CHECK(scores.dim() == 1, "nms: scores should be a 1d tensor, got ", scores.dim(), "D");
  TORCH_CHECK(dets.size(0) == scores.size(0), "nms: boxes and scores should have same number of elements in dimension 0, got ",
              dets.size(0), " and ", scores.size(0));
  TORCH_CHECK(dets.scalar_type() == scores.scalar_type(), "nms: boxes (", dets.scalar_type(), ") and scores (",
              scores.scalar_type(), ") must have the same dtype");
  if (dets.numel() == 0) return at::empty({0}, dets.options().dtype(at::kLong));
  at::Tensor result;
  AT_DISPATCH_FLOATING_TYPES(dets.scalar_type(), "stcn_nms", [&] { result = nmsImpl<scalar_t>(dets, scores, iouThreshold); });
  return result;
}

at::Tensor roiAlignCpu(const at::Tensor& input, const at::Tensor& rois, double spatialScale, int64_t pooledHeight,
                       int64_t pooledWidth, int64_t samplingRatio, bool aligned) {
  TORCH_CHECK(input.device().is_cpu(), "roi_align: input must be a CPU tensor, got ", input.device());
  TORCH_CHECK(rois.device().is_cpu(), "roi_align: rois must be a CPU tensor, got ", rois.device());
  TORCH_CHECK(input.dim() == 4, "roi_align: input must be 4D [B,C,H,W], got ", input.dim(), "D");
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5, "roi_align: rois must have shape [K, 5], got ", rois.sizes());
  TORCH_CHECK(input.scalar_type() == rois.scalar_type(), "roi_align: input (", input.scalar_type(), ") and rois (",
              rois.scalar_type(), ") must have the same dtype");
  TORCH_CHECK(pooledHeight > 0 && pooledWidth > 0, "roi_align: pooled size must be positive, got ", pooledHeight, "x",
              pooledWidth);
  const int64_t numRois = rois.size(0);
  at::Tensor output = at::zeros({numRois, input.size(1), pooledHeight, pooledWidth}, input.options());
  if (output.numel() == 0) return output;
  const at::Tensor in = input.contiguous();
  const at::Tensor r = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND_HALF(input.scalar_type(), "stcn_roi_align", [&] {
    roiAlignImpl<scalar_t>(in, r, output, spatialScale, pooledHeight, pooledWidth, samplingRatio, aligned);
  });
  return output;
}

const char* opProviderName(OpProvider provider) { return provider == OpProvider::Stcn ? "stcn" : "process"; }

const DetectionOpsStatus& registerDetectionOps() {
  static DetectionOpsStatus status;
  static std::once_flag once;
  // Held for the life of the process: destroying a torch::Library deregisters its operators.
  static std::vector<std::unique_ptr<torch::Library>> libraries;
  std::call_once(once, [] {
    auto& dispatcher = c10::Dispatcher::singleton();
    const auto present = [&](const char* name) {
      auto op = dispatcher.findSchema({name, ""});
      return op.has_value() && op->hasKernelForDispatchKey(c10::DispatchKey::CPU);
    };
    const bool haveNms = present("torchvision::nms");
    const bool haveRoiAlign = present("torchvision::roi_align");
    status.nms = haveNms ? OpProvider::Process : OpProvider::Stcn;
    status.roiAlign = haveRoiAlign ? OpProvider::Process : OpProvider::Stcn;
    if (haveNms && haveRoiAlign) return;
    // A FRAGMENT (not TORCH_LIBRARY's DEF) so that the "torchvision" namespace is not claimed: a
    // libtorchvision loaded before us keeps working (we registered nothing then).
    auto lib = std::make_unique<torch::Library>(torch::Library::FRAGMENT, "torchvision", c10::nullopt, __FILE__, __LINE__);
    auto defineIfAbsent = [&](const char* qualified, const char* schema) {
      if (!dispatcher.findSchema({qualified, ""}).has_value()) lib->def(schema);
    };
    if (!haveNms) {
      defineIfAbsent("torchvision::nms", kNmsSchema);
      lib->impl("nms", torch::dispatch(c10::DispatchKey::CPU, TORCH_FN(nmsKernel)));
#ifdef STCN_WITH_CUDA
      lib->impl("nms", torch::dispatch(c10::DispatchKey::CUDA, TORCH_FN(nmsCudaViaHost)));
      status.cudaKernels = true;
#endif
    }
    if (!haveRoiAlign) {
      defineIfAbsent("torchvision::roi_align", kRoiAlignSchema);
      lib->impl("roi_align", torch::dispatch(c10::DispatchKey::CPU, TORCH_FN(roiAlignKernel)));
#ifdef STCN_WITH_CUDA
      lib->impl("roi_align", torch::dispatch(c10::DispatchKey::CUDA, TORCH_FN(roiAlignCudaViaHost)));
      status.cudaKernels = true;
#endif
    }
    libraries.push_back(std::move(lib));
  });
  return status;
}

}  // namespace stcn
