// The C API (qat_runtime.h) over IntEngine: every C++ exception is turned
// into a status and a message here, at the boundary.
#include "experiments/runtime/qat_runtime.h"

#include <hdf5.h>

#include <cmath>
#include <mutex>
#include <new>
#include <set>
#include <string>

#include "experiments/runtime/int_engine.h"

struct qat_model {
  qat::IntEngine engine;
};

namespace {

thread_local std::string last_error;

// The live handles: a freed or foreign pointer is looked up, never
// dereferenced, so that it gets QAT_ERR_MODEL instead of undefined behaviour.
std::mutex live_mutex;
std::set<const qat_model*> live;

bool is_live(const qat_model* m) {
  std::lock_guard<std::mutex> lock(live_mutex);
  return live.count(m) != 0;
}

qat_status fail(qat_status s, std::string message) {
  last_error = std::move(message);
  return s;
}

qat_status ok() {
  last_error.clear();
  return QAT_OK;
}

// Runs f, turning any exception into status `on_error` (bad_alloc: internal).
template <class F>
qat_status guarded(qat_status on_error, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(QAT_ERR_INTERNAL, "qat runtime: out of memory");
  } catch (const std::exception& e) {
    return fail(on_error, e.what());
  } catch (...) {
    return fail(QAT_ERR_INTERNAL, "qat runtime: unknown error");
  }
}

// HDF5's own error printing off while we read (our message says what went
// wrong), and back as the host program had it afterwards.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

qat_status check_size(const qat_model* m, int64_t channels, int64_t height, int64_t width) {
  const int64_t c = m->engine.model().in_channels;
  const bool sizes = height > 0 && width > 0 && height % 8 == 0 && width % 8 == 0 &&
                     height <= (int64_t(1) << 15) && width <= (int64_t(1) << 15);
  if (channels == c && sizes) return QAT_OK;
  return fail(QAT_ERR_SIZE, "qat_model_run: image " + std::to_string(channels) + "x" +
                                std::to_string(height) + "x" + std::to_string(width) +
                                " (channels x height x width), expected " + std::to_string(c) +
                                " channels and height, width positive multiples of 8 up to 32768");
}

}  // namespace

extern "C" {

qat_status qat_model_load(const char* path, qat_model** model) {
  if (model) *model = nullptr;
  if (!path || !model) return fail(QAT_ERR_NULL, "qat_model_load: path and model must not be NULL");
  const QuietHdf5 quiet;
  return guarded(QAT_ERR_FILE, [&] {
    auto* m = new qat_model{qat::IntEngine(qat::read_int_model(path))};
    std::lock_guard<std::mutex> lock(live_mutex);
    live.insert(m);
    *model = m;
    return ok();
  });
}

qat_status qat_model_channels(const qat_model* model, int64_t* channels) {
  if (!model || !channels) return fail(QAT_ERR_NULL, "qat_model_channels: NULL argument");
  if (!is_live(model)) return fail(QAT_ERR_MODEL, "qat_model_channels: not a live model handle");
  *channels = model->engine.model().in_channels;
  return ok();
}

qat_status qat_model_run(qat_model* model, const float* pixels, int64_t channels, int64_t height,
                         int64_t width, float threshold, float* probabilities, uint8_t* mask) {
  if (!model || !pixels || (!probabilities && !mask))
    return fail(QAT_ERR_NULL, "qat_model_run: model, pixels and one of probabilities, mask "
                              "must not be NULL");
  if (!is_live(model))
    return fail(QAT_ERR_MODEL, "qat_model_run: not a live model handle (freed, or not from "
                               "qat_model_load)");
  if (check_size(model, channels, height, width) != QAT_OK) return QAT_ERR_SIZE;
  return guarded(QAT_ERR_INTERNAL, [&] {
    qat::Tensor x = qat::Tensor::empty({1, channels, height, width});
    std::copy(pixels, pixels + channels * height * width, x.data());
    const qat::Tensor logits = model->engine.logits(x);
    for (int64_t p = 0; p < height * width; ++p) {
      const float q = 1.0f / (1.0f + std::exp(-logits.data()[p]));  // as qat-int predict
      if (probabilities) probabilities[p] = q;
      if (mask) mask[p] = q >= threshold ? 1 : 0;
    }
    return ok();
  });
}

qat_status qat_model_free(qat_model* model) {
  if (!model) return fail(QAT_ERR_NULL, "qat_model_free: model must not be NULL");
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    if (!live.erase(model))
      return fail(QAT_ERR_MODEL, "qat_model_free: not a live model handle (freed twice?)");
  }
  delete model;
  return ok();
}

const char* qat_last_error(void) { return last_error.c_str(); }

}  // extern "C"
