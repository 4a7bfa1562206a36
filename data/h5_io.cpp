#include "data/h5_io.h"

#include <algorithm>
#include <cstdint>

#include "data/h5_chunks.h"

namespace qat::data {

template <> hid_t h5_native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t h5_native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t h5_native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t h5_native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t h5_native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t h5_native_type<uint64_t>() { return H5T_NATIVE_UINT64; }

template <class T>
void write_h5_dataset(hid_t loc, const std::string& path, const T* values,
                      const std::vector<hsize_t>& dims, const DatasetLayout& layout) {
  H5Handle lcpl = h5_plist(H5Pcreate(H5P_LINK_CREATE), "create a property list");
  h5_check(H5Pset_create_intermediate_group(lcpl, layout.make_parents), "set parent groups");
  H5Handle dcpl = h5_plist(H5Pcreate(H5P_DATASET_CREATE), "create a property list");
  if (layout.chunk_per_sample) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    h5_check(H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()), "chunk " + path);
    if (layout.deflate) h5_check(H5Pset_deflate(dcpl, unsigned(layout.deflate)), "compress " + path);
  }
  h5_check(H5Pset_obj_track_times(dcpl, layout.track_times), "set times of " + path);
  H5Handle space = h5_space(
      H5Screate_simple(int(dims.size()), dims.empty() ? nullptr : dims.data(), nullptr),
      "make a dataspace for " + path);
  H5Handle ds = h5_dataset(
      H5Dcreate2(loc, path.c_str(), h5_native_type<T>(), space, lcpl, dcpl, H5P_DEFAULT),
      "create " + path);
  h5_check(H5Dwrite(ds, h5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values),
           "write " + path);
}

H5Handle h5_open_dataset(hid_t loc, const std::string& path, const std::string& what) {
  H5Handle ds = h5_dataset(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "open " + what);
  // numbers only: HDF5 sizes its conversion buffer by the file's type
  // (4 GB for a type a damaged int model declared, found by fuzz_int_model)
  H5Handle type = h5_type(H5Dget_type(ds), "read the type of " + what);
  const H5T_class_t c = H5Tget_class(type);
  const size_t bytes = H5Tget_size(type);
  if ((c != H5T_INTEGER && c != H5T_FLOAT) || bytes == 0 || bytes > 8)
    throw Error(what + ": a dataset of " + std::to_string(bytes) + "-byte " +
                (c == H5T_INTEGER ? "integers" : c == H5T_FLOAT ? "floats" : "non-numbers") +
                ", expected numbers of 1 to 8 bytes");
  H5Handle dcpl = h5_plist(H5Dget_create_plist(ds), "read the layout of " + what);
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_CHUNKED) check_chunks(ds, dcpl, what);
  if (layout != H5D_COMPACT) return ds;  // contiguous: reads are bounded by the file
  H5Handle space = h5_space(H5Dget_space(ds), "read the shape of " + what);
  const hssize_t points = H5Sget_simple_extent_npoints(space);
  const hsize_t stored = H5Dget_storage_size(ds);
  if (points < 0 || bytes == 0 || stored != hsize_t(points) * bytes)
    throw Error(what + ": compact storage of " + std::to_string(stored) + " bytes, where " +
                std::to_string(points) + " values of " + std::to_string(bytes) +
                " bytes need " + std::to_string(hsize_t(std::max<hssize_t>(points, 0)) * bytes) +
                ": a damaged file");
  return ds;
}

std::vector<hsize_t> h5_dataset_dims(hid_t loc, const std::string& file_name,
                                     const std::string& path) {
  if (H5Lexists(loc, path.c_str(), H5P_DEFAULT) <= 0)
    throw Error(file_name + ": dataset '" + path + "' is missing");
  H5Handle ds = h5_open_dataset(loc, path, path);
  H5Handle space = h5_space(H5Dget_space(ds), "read the shape of " + path);
  std::vector<hsize_t> dims(size_t(std::max(H5Sget_simple_extent_ndims(space), 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

template <class T>
void read_h5_dataset(hid_t loc, const std::string& path, T* out) {
  H5Handle ds = h5_open_dataset(loc, path, path);
  h5_check(H5Dread(ds, h5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "read " + path);
}

std::string h5_file_image(const std::function<void(hid_t file)>& fill) {
  H5Handle fapl = h5_plist(H5Pcreate(H5P_FILE_ACCESS), "create a property list");
  h5_check(H5Pset_fapl_core(fapl, /*increment=*/size_t(1) << 20, /*backing_store=*/false),
           "use the in-memory driver");
  H5Handle file = h5_file(H5Fcreate("in-memory.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
                          "create a file in memory");
  fill(file);
  h5_check(H5Fflush(file, H5F_SCOPE_GLOBAL), "flush a file in memory");
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size < 0) throw Error("HDF5: could not get the image of a file in memory");
  std::string bytes(size_t(size), '\0');
  if (H5Fget_file_image(file, bytes.data(), bytes.size()) != size)
    throw Error("HDF5: could not copy the image of a file in memory");
  return bytes;
}

void write_h5_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  H5Handle type = h5_type(H5Tcopy(H5T_C_S1), "copy the string type");
  h5_check(H5Tset_size(type, value.size() + 1), "size a string type");
  h5_check(H5Tset_strpad(type, H5T_STR_NULLTERM), "pad a string type");
  H5Handle space = h5_space(H5Screate(H5S_SCALAR), "make a scalar space");
  H5Handle a = h5_attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                       "create attribute " + name);
  h5_check(H5Awrite(a, type, value.c_str()), "write attribute " + name);
}

template <class T>
void write_h5_scalar_attr(hid_t obj, const std::string& name, T value) {
  H5Handle space = h5_space(H5Screate(H5S_SCALAR), "make a scalar space");
  H5Handle a = h5_attr(
      H5Acreate2(obj, name.c_str(), h5_native_type<T>(), space, H5P_DEFAULT, H5P_DEFAULT),
      "create attribute " + name);
  h5_check(H5Awrite(a, h5_native_type<T>(), &value), "write attribute " + name);
}

bool h5_has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

namespace {

// An attribute read into one value must hold one: H5Aread writes all of an
// array attribute's elements (a file could make it overrun the value).
void check_one_value(hid_t attr, const std::string& name, const std::string& where) {
  H5Handle space = h5_space(H5Aget_space(attr), "get the shape of attribute " + name);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n != 1)
    throw Error(where + ": attribute '" + name + "' holds " + std::to_string(n) +
                " values, expected one");
}

}  // namespace

std::string read_h5_string_attr(hid_t obj, const std::string& name, const std::string& where) {
  if (!h5_has_attr(obj, name)) throw Error(where + ": attribute '" + name + "' is missing");
  H5Handle attr = h5_attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name);
  check_one_value(attr, name, where);
  H5Handle type = h5_type(H5Aget_type(attr), "get type of " + where + " " + name);
  if (H5Tget_class(type) != H5T_STRING)
    throw Error(where + ": attribute '" + name + "' is not a string, expected a string");
  if (H5Tis_variable_str(type) > 0) {  // what h5py writes for a Python str
    H5Handle mem = h5_type(H5Tcopy(H5T_C_S1), "copy string type");
    h5_check(H5Tset_size(mem, H5T_VARIABLE), "size string type");
    h5_check(H5Tset_cset(mem, H5Tget_cset(type)), "set charset");
    char* value = nullptr;
    h5_check(H5Aread(attr, mem, &value), "read " + where + " " + name);
    std::string out = value ? value : "";
    H5free_memory(value);
    return out;
  }
  std::string buf(H5Tget_size(type), '\0');
  H5Handle mem = h5_type(H5Tcopy(H5T_C_S1), "copy the string type");
  h5_check(H5Tset_size(mem, buf.size()), "size a string type");
  h5_check(H5Aread(attr, mem, buf.data()), "read " + where + " " + name);
  return buf.substr(0, buf.find('\0'));
}

template <class T>
T read_h5_scalar_attr(hid_t obj, const std::string& name, const std::string& where) {
  if (!h5_has_attr(obj, name)) throw Error(where + ": attribute '" + name + "' is missing");
  H5Handle a = h5_attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name);
  check_one_value(a, name, where);
  T value{};
  h5_check(H5Aread(a, h5_native_type<T>(), &value), "read attribute " + name);
  return value;
}

#define QAT_H5_TYPE(T)                                                                    \
  template void write_h5_dataset<T>(hid_t, const std::string&, const T*,                  \
                                    const std::vector<hsize_t>&, const DatasetLayout&);   \
  template void read_h5_dataset<T>(hid_t, const std::string&, T*);                        \
  template void write_h5_scalar_attr<T>(hid_t, const std::string&, T);                    \
  template T read_h5_scalar_attr<T>(hid_t, const std::string&, const std::string&);
QAT_H5_TYPE(float)
QAT_H5_TYPE(double)
QAT_H5_TYPE(uint8_t)
QAT_H5_TYPE(int32_t)
QAT_H5_TYPE(int64_t)
QAT_H5_TYPE(uint64_t)
#undef QAT_H5_TYPE

}  // namespace qat::data
