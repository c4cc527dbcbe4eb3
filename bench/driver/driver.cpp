// stcn_driver: the engine (cpp/) without Node, for bench/gpu-check.sh on machines that have a CUDA
// PyTorch but no Node. It runs the same engine calls the addon makes, in the order the TypeScript
// tracker makes them, and prints one JSON object per command on stdout.
//
//   stcn_driver info
//   stcn_driver stcn --model M.pt --device D --frames F.rgb --count T --width W --height H
//                    --mask FIRST.u8 [--size 480] [--top-k 20] [--mem-every 5] [--half]
//                    [--optimization inference] [--warmup N] [--out LABELS.u8]
//   stcn_driver memread --device D [--frames 8] [--objects 2] [--top-k 20]
//   stcn_driver crf --device D [--width 854] [--height 480]
//   stcn_driver maskrcnn --model M.pt --device D --image IMG.rgb --width W --height H --out DET.json
//
// Inputs are raw files prepared by gpu-check.sh (Python/PIL): frames as T x H x W x 3 uint8 RGB,
// masks as H x W uint8 label ids. Frames are read into pinned host memory when the device is CUDA.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dense_crf.h"
#include "detection_ops.h"
#include "errors.h"
#include "memory_bank.h"
#include "runtime.h"
#include "script_module.h"
#include "stcn_session.h"

#ifdef STCN_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    if (it != values.end()) return it->second;
    if (def.empty()) throw std::runtime_error("missing --" + k);
    return def;
  }
  int64_t num(const std::string& k, int64_t def) const { return std::stoll(get(k, std::to_string(def))); }
  bool flag(const std::string& k) const { return flags.count(k) > 0; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; i++) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::runtime_error("unexpected argument " + k);
    k = k.substr(2);
    if (k == "half") {
      a.flags.insert(k);
    } else {
      if (i + 1 >= argc) throw std::runtime_error("--" + k + " needs a value");
      a.values[k] = argv[++i];
    }
  }
  return a;
}

std::vector<uint8_t> readFile(const std::string& path, size_t expected) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (expected && data.size() != expected) {
    throw std::runtime_error(path + " holds " + std::to_string(data.size()) + " bytes, expected " + std::to_string(expected));
  }
  return data;
}

void sync(const c10::Device& device) {
#ifdef STCN_WITH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int info() {
  std::cout << "{\"libtorch\":\"" << stcn::libtorchVersion() << "\",\"builtWithCuda\":" << (stcn::builtWithCuda() ? "true" : "false")
            << ",\"cudaAvailable\":" << (stcn::cudaAvailable() ? "true" : "false") << ",\"cudaDevices\":" << stcn::cudaDeviceCount()
            << ",\"threads\":" << stcn::getNumThreads() << "}" << std::endl;
  return 0;
}

// The TypeScript tracker's order of engine calls (ts/stcn/tracker.ts, objects from the first mask only).
int runStcn(const Args& a) {
  const c10::Device device = stcn::parseDevice(a.get("device"));
  const int64_t T = a.num("count", 0), W = a.num("width", 0), H = a.num("height", 0);
  const int64_t memEvery = a.num("mem-every", 5);
  const int64_t warmup = a.num("warmup", 0);
  stcn::LoadOptions load;
  load.device = device;
  load.optimization = stcn::parseOptimization(a.get("optimization", "inference"));
  auto module = std::shared_ptr<const stcn::ScriptModule>(stcn::ScriptModule::load(a.get("model"), load));
  stcn::checkStcnModule(*module);
  stcn::tuneMallocOnce();
  stcn::SessionOptions options;
  options.topK = a.num("top-k", 20);
  options.size = a.num("size", 480);
  options.half = a.flag("half");

  // Frames in (pinned, on CUDA) host memory, as decoded frames would be.
  const size_t frameBytes = static_cast<size_t>(W * H * 3);
  std::vector<uint8_t> file = readFile(a.get("frames"), frameBytes * static_cast<size_t>(T));
  at::Tensor frames = at::empty({T, H, W, 3}, at::TensorOptions().dtype(at::kByte).pinned_memory(device.is_cuda()));
  std::memcpy(frames.data_ptr<uint8_t>(), file.data(), file.size());
  file.clear();
  std::vector<uint8_t> mask = readFile(a.get("mask"), static_cast<size_t>(W * H));
  std::vector<uint8_t> ids;
  {
    std::set<uint8_t> seen(mask.begin(), mask.end());
    for (uint8_t v : seen)
      if (v != 0) ids.push_back(v);
  }
  auto frame = [&](int64_t t) { return frames.data_ptr<uint8_t>() + t * static_cast<int64_t>(frameBytes); };

  std::vector<uint8_t> all;
  double propagation = 0;
  // --warmup N: a first, untimed video of N frames (with memEvery 5, N = 12 runs each TorchScript
  // method at least 3 times, past the profiling executor's optimisation), then the timed video.
  for (int64_t pass = 0; pass < 1 + (warmup > 0 ? 1 : 0); pass++) {
    const bool timedPass = pass == (warmup > 0 ? 1 : 0);
    const int64_t count = timedPass ? T : std::min(warmup, T);
    stcn::StcnSession session(module, options);
    all.clear();
    sync(device);
    auto t0 = Clock::now();
    session.encodeFrame(frame(0), W, H);
    std::vector<uint8_t> kept = session.addObjects(mask.data(), W, H, ids, false);
    session.memorize(stcn::MemoryKind::Permanent);
    std::vector<uint8_t> labelIds{0};
    labelIds.insert(labelIds.end(), kept.begin(), kept.end());
    std::vector<uint8_t> out = session.labels(labelIds, nullptr);
    all.insert(all.end(), out.begin(), out.end());
    for (int64_t t = 1; t < count; t++) {
      session.encodeFrame(frame(t), W, H);
      session.segment();
      if (t != count - 1 && t % memEvery == 0) session.memorize(stcn::MemoryKind::Regular);
      out = session.labels(labelIds, nullptr);  // uint8 labels are the only per-frame device->host copy
      all.insert(all.end(), out.begin(), out.end());
    }
    sync(device);
    if (timedPass) propagation = seconds(t0);
  }
  if (a.values.count("out")) {
    std::ofstream f(a.get("out"), std::ios::binary);
    f.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size()));
  }
  std::cout << "{\"frames\":" << T << ",\"objects\":" << ids.size() << ",\"seconds\":" << propagation << ",\"fps\":" << (T / propagation)
            << ",\"device\":\"" << stcn::deviceName(device) << "\",\"half\":" << (options.half ? "true" : "false") << ",\"optimization\":\""
            << stcn::optimizationName(module->appliedOptimization()) << "\"}" << std::endl;
  return 0;
}

// The memory read on the device against the same read on the CPU (same keys, values and query).
int runMemread(const Args& a) {
  const c10::Device device = stcn::parseDevice(a.get("device"));
  const int64_t frames = a.num("frames", 8), objects = a.num("objects", 2), topK = a.num("top-k", 20);
  const int64_t h = 30, w = 54;
  at::manual_seed(16);
  stcn::MemoryBank cpu, dev;
  for (int64_t f = 0; f < frames; f++) {
    at::Tensor key = at::randn({1, 64, h, w});
    at::Tensor values = at::randn({objects, 512, h, w});
    auto kind = f == 0 ? stcn::MemoryKind::Permanent : stcn::MemoryKind::Regular;
    cpu.add(key, values, kind);
    dev.add(key.to(device), values.to(device), kind);
  }
  at::Tensor query = at::randn({1, 64, h, w});
  c10::InferenceMode guard;
  at::Tensor a0 = cpu.read(query, topK);
  sync(device);
  auto t0 = Clock::now();
  at::Tensor b0 = dev.read(query.to(device), topK);
  sync(device);
  const double ms = seconds(t0) * 1000;
  const double diff = (a0 - b0.to(at::kCPU)).abs().max().item<double>();
  std::cout << "{\"maxAbsDiff\":" << diff << ",\"ms\":" << ms << ",\"device\":\"" << stcn::deviceName(b0.device()) << "\",\"shape\":["
            << b0.size(0) << "," << b0.size(1) << "," << b0.size(2) << "," << b0.size(3) << "]}" << std::endl;
  return 0;
}

// The CRF fed from a probability tensor computed on the device (copied to the host, as the addon
// does with device tensors) against the same computation on the CPU.
int runCrf(const Args& a) {
  const c10::Device device = stcn::parseDevice(a.get("device"));
  const int W = static_cast<int>(a.num("width", 854)), H = static_cast<int>(a.num("height", 480));
  at::manual_seed(7);
  at::Tensor logits = at::randn({2, H, W});
  at::Tensor image = at::randint(0, 256, {H, W, 3}, at::TensorOptions().dtype(at::kByte));
  auto crfOf = [&](const at::Tensor& probs) {
    at::Tensor host = probs.to(at::kCPU, at::kFloat).contiguous();
    stcn::crf::CrfInput in;
    in.width = W;
    in.height = H;
    in.nLabels = 2;
    in.image = image.data_ptr<uint8_t>();
    in.unaryKind = stcn::crf::UnaryKind::Probabilities;
    in.probabilities = host.data_ptr<float>();
    stcn::crf::PairwiseTerm g;
    stcn::crf::PairwiseTerm b;
    b.kind = stcn::crf::PairwiseTerm::Kind::Bilateral;
    b.sx = b.sy = 40;
    b.compat = 10;
    in.pairwise = {g, b};
    in.iterations = 10;
    in.threads = 2;
    return stcn::crf::denseCrf(in);
  };
  auto onCpu = crfOf(at::softmax(logits, 0));
  auto t0 = Clock::now();
  auto onDev = crfOf(at::softmax(logits.to(device), 0));
  const double ms = seconds(t0) * 1000;
  double diff = 0;
  size_t same = 0;
  for (size_t i = 0; i < onCpu.q.size(); i++) diff = std::max(diff, static_cast<double>(std::fabs(onCpu.q[i] - onDev.q[i])));
  for (size_t i = 0; i < onCpu.argmax.size(); i++) same += onCpu.argmax[i] == onDev.argmax[i];
  std::cout << "{\"maxAbsDiffQ\":" << diff << ",\"labelAgreement\":" << static_cast<double>(same) / onCpu.argmax.size() << ",\"ms\":" << ms
            << "}" << std::endl;
  return 0;
}

// Mask R-CNN forward with our torchvision::nms / roi_align registrations; detections as JSON.
int runMaskrcnn(const Args& a) {
  const c10::Device device = stcn::parseDevice(a.get("device"));
  const int64_t W = a.num("width", 0), H = a.num("height", 0);
  const auto& ops = stcn::registerDetectionOps();
  stcn::LoadOptions load;
  load.device = device;
  auto module = stcn::ScriptModule::load(a.get("model"), load);
  std::vector<uint8_t> rgb = readFile(a.get("image"), static_cast<size_t>(W * H * 3));
  // Detector archives take the decoded frame as uint8 [H,W,3] RGB and convert it inside.
  at::Tensor x = at::from_blob(rgb.data(), {H, W, 3}, at::kByte).to(device);
  for (int i = 0; i < 2; i++) module->run("forward", {x});  // warm-up (the profiling executor optimises on the 2nd run)
  sync(device);
  auto t0 = Clock::now();
  c10::IValue result = module->run("forward", {x});
  sync(device);
  const double ms = seconds(t0) * 1000;
  auto dict = result.toGenericDict();
  std::ofstream out(a.get("out"));
  out << "{\"ms\":" << ms << ",\"nms\":\"" << stcn::opProviderName(ops.nms) << "\",\"cudaKernels\":" << (ops.cudaKernels ? "true" : "false");
  for (const auto& name : {"boxes", "scores", "labels", "masks"}) {
    at::Tensor t = dict.at(name).toTensor().to(at::kCPU, at::kFloat).contiguous();
    out << ",\"" << name << "_shape\":[";
    for (int64_t d = 0; d < t.dim(); d++) out << (d ? "," : "") << t.size(d);
    out << "],\"" << name << "\":[";
    // Masks: per detection, the pixel count >= 0.5 (the annotator's threshold), enough to compare.
    if (std::string(name) == "masks") t = (t >= 0.5).sum({1, 2, 3}).to(at::kFloat);
    const float* p = t.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); i++) out << (i ? "," : "") << p[i];
    out << "]";
  }
  out << "}\n";
  std::cout << "{\"ms\":" << ms << ",\"detections\":" << dict.at("scores").toTensor().size(0) << "}" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: stcn_driver info|stcn|memread|crf|maskrcnn [options]" << std::endl;
    return 2;
  }
  const std::string command = argv[1];
  try {
    Args a = parse(argc, argv);
    // Threads as the addon's default: --threads, else STCN_NUM_THREADS, else OMP_NUM_THREADS, else every core.
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    for (const char* name : {"OMP_NUM_THREADS", "STCN_NUM_THREADS"}) {
      const char* v = std::getenv(name);
      if (v && *v) threads = std::atoi(v);
    }
    if (a.values.count("threads")) threads = static_cast<int>(a.num("threads", 0));
    if (threads >= 1) stcn::setNumThreads(threads);
    if (command == "info") return info();
    if (command == "stcn") return runStcn(a);
    if (command == "memread") return runMemread(a);
    if (command == "crf") return runCrf(a);
    if (command == "maskrcnn") return runMaskrcnn(a);
    std::cerr << "stcn_driver: unknown command " << command << std::endl;
    return 2;
  } catch (const stcn::Error& e) {
    std::cerr << "stcn_driver " << command << ": " << e.what() << " [" << stcn::errorCodeName(e.code()) << "]" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "stcn_driver " << command << ": " << e.what() << std::endl;
  }
  return 1;
}
