// Errors. Internal invariants go through QAT_CHECK, which names file:line;
// bad input from users gets a qat::Error whose message says what was found
// and what was expected.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace qat {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace qat

#define QAT_CHECK(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      throw ::qat::Error(::qat::detail::concat(__FILE__, ":", __LINE__, ": ",  \
                                               __VA_ARGS__));                  \
  } while (0)
