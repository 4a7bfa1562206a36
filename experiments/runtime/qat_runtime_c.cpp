// The C API (qat_runtime.h) over IntEngine: every C++ exception is turned
// into a status and a message here, at the boundary.
#include "experiments/runtime/qat_runtime.h"

#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "experiments/runtime/int_engine.h"

namespace {

thread_local std::string last_error;

// The live models, by handle. A handle is not an address: it is a serial
// number that no later load reuses, tagged in its top byte so that it can
// never equal a pointer to real memory on a 64-bit machine. A freed, stale
// or foreign handle is looked up here and never dereferenced, so it gets
// QAT_ERR_MODEL, even when the memory of the freed model now holds another
// one (a set of live addresses cannot tell that apart). The registry holds
// shared_ptrs: a run in progress keeps its engine alive through a free from
// another thread.
std::mutex registry_mutex;
std::map<uintptr_t, std::shared_ptr<qat::IntEngine>> registry;
uintptr_t last_serial = 0;
constexpr uintptr_t kTag = sizeof(uintptr_t) >= 8 ? uintptr_t(0xA7) << (8 * sizeof(uintptr_t) - 8) : 0;

uintptr_t key(const qat_model* m) { return reinterpret_cast<uintptr_t>(m); }

qat_model* add(std::shared_ptr<qat::IntEngine> e) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  const uintptr_t h = kTag | ++last_serial;
  registry.emplace(h, std::move(e));
  return reinterpret_cast<qat_model*>(h);
}

// The engine of a live handle, or null.
std::shared_ptr<qat::IntEngine> find(const qat_model* m) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  const auto it = registry.find(key(m));
  return it == registry.end() ? nullptr : it->second;
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

qat_status check_size(const qat::IntEngine& e, int64_t channels, int64_t height, int64_t width) {
  const int64_t c = e.model().in_channels;
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
    *model = add(std::make_shared<qat::IntEngine>(qat::read_int_model(path)));
    return ok();
  });
}

qat_status qat_model_channels(const qat_model* model, int64_t* channels) {
  if (!model || !channels) return fail(QAT_ERR_NULL, "qat_model_channels: NULL argument");
  const std::shared_ptr<qat::IntEngine> e = find(model);
  if (!e) return fail(QAT_ERR_MODEL, "qat_model_channels: not a live model handle (freed, or "
                                     "not from qat_model_load)");
  *channels = e->model().in_channels;
  return ok();
}

qat_status qat_model_run(qat_model* model, const float* pixels, int64_t channels, int64_t height,
                         int64_t width, float threshold, float* probabilities, uint8_t* mask) {
  if (!model || !pixels || (!probabilities && !mask))
    return fail(QAT_ERR_NULL, "qat_model_run: model, pixels and one of probabilities, mask "
                              "must not be NULL");
  const std::shared_ptr<qat::IntEngine> e = find(model);
  if (!e)
    return fail(QAT_ERR_MODEL, "qat_model_run: not a live model handle (freed, or not from "
                               "qat_model_load)");
  if (check_size(*e, channels, height, width) != QAT_OK) return QAT_ERR_SIZE;
  return guarded(QAT_ERR_INTERNAL, [&] {
    qat::Tensor x = qat::Tensor::empty({1, channels, height, width});
    std::copy(pixels, pixels + channels * height * width, x.data());
    const qat::Tensor logits = e->logits(x);
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
  std::shared_ptr<qat::IntEngine> e;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    const auto it = registry.find(key(model));
    if (it == registry.end())
      return fail(QAT_ERR_MODEL, "qat_model_free: not a live model handle (freed twice, or not "
                                 "from qat_model_load)");
    e = std::move(it->second);
    registry.erase(it);
  }
  return ok();
}

const char* qat_last_error(void) { return last_error.c_str(); }

}  // extern "C"
