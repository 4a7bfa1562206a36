// What the programs print for an error: messages quote text from files
// and the command line ("--set 'a<newline>b'", a YAML parser's "unknown
// escape character"), so control characters are shown escaped and every
// error stays the one line the exit-code contract promises.
#pragma once
#include <string>

namespace qat {

inline std::string one_line(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : s) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else if (ch == '\t') out += "\\t";
    else if (ch < 0x20 || ch == 0x7f) out += std::string("\\x") + hex[ch >> 4] + hex[ch & 15];
    else out += char(ch);
  }
  return out;
}

}  // namespace qat
