#include "data/h5_chunks.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "autograd/check.h"
#include "data/h5.h"

namespace qat::data {

namespace {

struct Filters {
  std::vector<H5Z_filter_t> ids;  // in pipeline order (written first to last)
};

Filters filters_of(hid_t dcpl, const std::string& what) {
  Filters f;
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    size_t values = 0;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl, unsigned(i), &flags, &values, nullptr,
                                           sizeof name, name, &config);
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      throw Error(what + ": HDF5 filter " + std::to_string(id) + " ('" + name +
                  "'), where qat reads deflate, shuffle and fletcher32 only");
    f.ids.push_back(id);
  }
  return f;
}

// The size of raw[0, n) after inflating it, through a small buffer (the
// bytes are not kept), stopping past limit (then limit + 1); -1 if it is not
// a whole zlib stream.
int64_t inflated_size(const unsigned char* raw, size_t n, size_t limit) {
  unsigned char out[1 << 16];
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return -1;
  z.next_in = const_cast<unsigned char*>(raw);
  z.avail_in = uInt(n);
  int rc = Z_OK;
  while (rc == Z_OK && z.total_out <= limit) {
    z.next_out = out;
    z.avail_out = sizeof out;
    rc = inflate(&z, Z_NO_FLUSH);  // Z_BUF_ERROR: the input ended mid-stream
  }
  const int64_t size = int64_t(z.total_out);
  inflateEnd(&z);
  if (size > int64_t(limit)) return int64_t(limit) + 1;
  return rc == Z_STREAM_END ? size : -1;
}

// The size chunk `raw` decodes to: the filters undone last to first,
// skipping those its filter mask says were not applied. Only deflate needs
// the bytes; past it, only the size is followed.
int64_t decoded_size(const Filters& f, unsigned mask, const std::vector<unsigned char>& raw,
                     size_t chunk_bytes) {
  int64_t size = int64_t(raw.size());
  bool inflated = false;
  for (size_t i = f.ids.size(); i-- > 0;) {
    if (mask & (1u << i)) continue;
    if (f.ids[i] == H5Z_FILTER_FLETCHER32) {  // a 4-byte checksum at the end
      if (size < 4) return -1;
      size -= 4;
    } else if (f.ids[i] == H5Z_FILTER_DEFLATE) {
      if (inflated) return -1;  // a second deflate: not a pipeline anyone writes
      size = inflated_size(raw.data(), size_t(size), chunk_bytes);
      if (size != int64_t(chunk_bytes)) return size;
      inflated = true;
    }  // shuffle keeps the size
  }
  return size;
}

// Bounds on the chunks checked (a dataset of qat's has one per sample).
constexpr int64_t kMaxChunks = int64_t(1) << 22;
constexpr size_t kMaxChunkBytes = size_t(256) << 20;

// The file's bytes, read by qat, not by H5Dread_chunk: that writes as many
// bytes as its own lookup of the chunk finds into a buffer sized by
// H5Dget_chunk_info's, and on a damaged index the two differ (a write past
// the buffer, found by fuzz_dataset_bytes).
struct RawFile {
  std::ifstream in;
  hsize_t base = 0, bytes = 0;  // HDF5 addresses count from base (the user block)

  RawFile(hid_t ds, const std::string& what) {
    H5Handle file = h5_file(H5Iget_file_id(ds), "find the file of " + what);
    const ssize_t n = H5Fget_name(file, nullptr, 0);
    std::string name(size_t(std::max<ssize_t>(n, 0)), '\0');
    if (n <= 0 || H5Fget_name(file, name.data(), name.size() + 1) != n)
      throw Error(what + ": could not find the name of its file");
    H5Handle fcpl = h5_plist(H5Fget_create_plist(file), "read the user block of " + what);
    h5_check(H5Pget_userblock(fcpl, &base), "read the user block of " + what);
    in.open(name, std::ios::binary | std::ios::ate);
    if (!in) throw Error(name + ": could not open it again to check " + what);
    bytes = hsize_t(in.tellg());
  }
  // false if [address, address + n) is not inside the file
  bool read(haddr_t address, hsize_t n, std::vector<unsigned char>& out) {
    if (address > bytes || base > bytes - address || n > bytes - base - address) return false;
    out.resize(size_t(n));
    in.seekg(std::streamoff(base + address));
    return bool(in.read(reinterpret_cast<char*>(out.data()), std::streamsize(n)));
  }
};

}  // namespace

void check_chunks(hid_t ds, hid_t dcpl, const std::string& what) {
  const Filters f = filters_of(dcpl, what);
  H5Handle space = h5_space(H5Dget_space(ds), "read the shape of " + what);
  H5Handle type = h5_type(H5Dget_type(ds), "read the type of " + what);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(rank, 0))), chunk(dims.size());
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  if (H5Pget_chunk(dcpl, rank, chunk.data()) != rank)
    throw Error(what + ": could not read its chunk shape");
  size_t chunk_bytes = H5Tget_size(type);
  __int128 grid = 1;  // chunks in the grid; the dims are not checked yet
  for (size_t d = 0; d < dims.size(); ++d) {
    // HDF5 allocates a whole chunk to read one (fuzz_dataset_bytes: a
    // chunk of 134217729 x 4 x 4 for 2 x 4 x 4 masks took 2 GB)
    if (chunk[d] == 0 || chunk[d] > std::max<hsize_t>(dims[d], 1))
      throw Error(what + ": chunk dimension " + std::to_string(d) + " is " +
                  std::to_string(chunk[d]) + ", expected 1 to the dataset's " +
                  std::to_string(dims[d]));
    chunk_bytes *= size_t(chunk[d]);
    if (chunk_bytes > kMaxChunkBytes)
      throw Error(what + ": chunks of more than " + std::to_string(kMaxChunkBytes >> 20) +
                  " MiB, more than qat reads");
    grid *= __int128((dims[d] + chunk[d] - 1) / chunk[d]);
    if (grid > kMaxChunks)
      throw Error(what + ": a grid of more than " + std::to_string(kMaxChunks) +
                  " chunks, more than qat reads");
  }
  RawFile file(ds, what);
  // every chunk of the grid, by coordinates (O(log n) each in 1.10's index)
  std::vector<hsize_t> at(dims.size(), 0);
  std::vector<unsigned char> raw;
  for (bool more = grid > 0 && !dims.empty(); more;) {
    unsigned mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t stored = 0;
    h5_check(H5Dget_chunk_info_by_coord(ds, at.data(), &mask, &address, &stored),
             "read a chunk index of " + what);
    if (address != HADDR_UNDEF) {  // an unwritten chunk reads as the fill value
      int64_t size = int64_t(stored);  // no filters: the stored bytes are the chunk
      if (!f.ids.empty()) {
        if (!file.read(address, stored, raw))
          throw Error(what + ": a chunk of " + std::to_string(stored) + " bytes at " +
                      std::to_string(address) + " in a file of " + std::to_string(file.bytes) +
                      ": a damaged file");
        size = decoded_size(f, mask, raw, chunk_bytes);
      }
      if (size != int64_t(chunk_bytes))
        throw Error(what + ": a stored chunk decodes to " +
                    (size < 0 ? std::string("nothing (a broken stream)")
                     : size > int64_t(chunk_bytes) ? "more than " + std::to_string(chunk_bytes) + " bytes"
                                                   : std::to_string(size) + " bytes") +
                    ", where its chunk shape needs " + std::to_string(chunk_bytes) +
                    ": a damaged file");
    }
    more = false;  // the next chunk coordinates, last dimension fastest
    for (size_t d = dims.size(); d-- > 0 && !more;) {
      at[d] += chunk[d];
      if (at[d] < dims[d]) more = true;
      else at[d] = 0;
    }
  }
}

}  // namespace qat::data
