// Reading a PyTorch fixture (tests/fixtures/*.h5) with the HDF5 C API:
// float32 datasets of any rank, the member names of a group, and string or
// number attributes of the file. Every hid_t lives in a data::H5Handle, which
// closes it also when a check throws. Failures throw qat::Error naming the file and
// the dataset, what was found and what was expected.
#pragma once
#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "autograd/check.h"
#include "autograd/tensor.h"
#include "data/h5.h"

namespace qat::testing {

using data::H5Handle;

struct H5Array {
  std::vector<float> values;
  Shape shape;  // () for a scalar
};

class H5Reader {
 public:
  explicit H5Reader(const std::string& path) : path_(path), file_(open(path), H5Fclose, "open " + path) {}

  bool has(const std::string& name) const {
    htri_t found = 0;
    // A missing intermediate group is an error to H5Lexists; for us a "no".
    H5E_BEGIN_TRY { found = H5Lexists(file_, name.c_str(), H5P_DEFAULT); }
    H5E_END_TRY;
    return found > 0;
  }

  // A float32 dataset; other types are converted by HDF5 only if they are floats.
  H5Array read(const std::string& name) const {
    if (!has(name))
      throw Error(path_ + ": no dataset '" + name + "' (regenerate the fixture?)");
    H5Handle dset(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose, "open " + where(name));
    H5Handle type(H5Dget_type(dset), H5Tclose, "get the type of " + where(name));
    if (H5Tget_class(type) != H5T_FLOAT)
      throw Error(where(name) + ": expected a float dataset, found another type class");
    H5Handle space(H5Dget_space(dset), H5Sclose, "get the dataspace of " + where(name));
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(size_t(rank > 0 ? rank : 0));
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    H5Array out;
    for (hsize_t d : dims) out.shape.push_back(int64_t(d));
    out.values.resize(size_t(numel(out.shape)));
    if (H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0)
      throw Error("HDF5: could not read " + where(name));
    return out;
  }

  // Member names of a group, in HDF5's name order (sorted).
  std::vector<std::string> list(const std::string& group) const {
    if (!has(group)) throw Error(path_ + ": no group '" + group + "'");
    std::vector<std::string> names;
    auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
      static_cast<std::vector<std::string>*>(out)->push_back(name);
      return 0;
    };
    if (H5Literate_by_name(file_, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
                           collect, &names, H5P_DEFAULT) < 0)
      throw Error("HDF5: could not list " + where(group));
    return names;
  }

  // A variable- or fixed-length string attribute of the file's root.
  std::string string_attr(const std::string& name) const {
    H5Handle attr(H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + where(name));
    H5Handle stored(H5Aget_type(attr), H5Tclose, "get the type of attribute " + where(name));
    if (H5Tget_class(stored) != H5T_STRING)
      throw Error(where(name) + ": expected a string attribute");
    if (H5Tis_variable_str(stored) > 0) {
      H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose, "make a string type");
      H5Tset_size(mem, H5T_VARIABLE);
      H5Tset_cset(mem, H5Tget_cset(stored));
      char* text = nullptr;
      if (H5Aread(attr, mem, &text) < 0 || !text)
        throw Error("HDF5: could not read attribute " + where(name));
      std::string out(text);
      H5free_memory(text);
      return out;
    }
    std::string out(H5Tget_size(stored), '\0');
    if (H5Aread(attr, stored, out.data()) < 0)
      throw Error("HDF5: could not read attribute " + where(name));
    return out.substr(0, out.find('\0'));
  }

  double number_attr(const std::string& name) const {
    H5Handle attr(H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + where(name));
    double value = 0;
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, &value) < 0)
      throw Error("HDF5: could not read attribute " + where(name) + " as a number");
    return value;
  }

 private:
  static hid_t open(const std::string& path) {
    if (!std::filesystem::exists(path))
      throw Error(path + ": fixture not found (run /usr/bin/python3 tests/make_unet_fixture.py)");
    return H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  }
  std::string where(const std::string& name) const { return path_ + ":" + name; }

  std::string path_;
  H5Handle file_;
};

}  // namespace qat::testing
