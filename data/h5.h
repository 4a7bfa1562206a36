// RAII around HDF5 hid_t: every handle the data library opens is closed by
// the destructor of one of these, also when a validation error is thrown.
#pragma once
#include <hdf5.h>

#include <string>
#include <utility>

#include "autograd/check.h"

namespace qat::data {

class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  // `what` names the object in the error thrown when HDF5 returns < 0.
  H5Handle(hid_t id, Closer close, const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) throw Error("HDF5: could not " + what);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& o) noexcept
      : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  ~H5Handle() { reset(); }

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }

 private:
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

inline H5Handle h5_file(hid_t id, const std::string& what) { return {id, H5Fclose, what}; }
inline H5Handle h5_group(hid_t id, const std::string& what) { return {id, H5Gclose, what}; }
inline H5Handle h5_dataset(hid_t id, const std::string& what) { return {id, H5Dclose, what}; }
inline H5Handle h5_space(hid_t id, const std::string& what) { return {id, H5Sclose, what}; }
inline H5Handle h5_type(hid_t id, const std::string& what) { return {id, H5Tclose, what}; }
inline H5Handle h5_plist(hid_t id, const std::string& what) { return {id, H5Pclose, what}; }
inline H5Handle h5_attr(hid_t id, const std::string& what) { return {id, H5Aclose, what}; }

inline void h5_check(herr_t status, const std::string& what) {
  if (status < 0) throw Error("HDF5: could not " + what);
}

}  // namespace qat::data
