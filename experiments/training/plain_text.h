// Checks for text from config and sweep files that qat puts into folder
// names, plot titles and tables. Files are shared between people, so a
// value must not be able to leave its folder or add a line to a generated
// script (plots quote what they print as well: experiments/studies/gnuplot.h).
#pragma once
#include <string>

#include "autograd/check.h"

namespace qat {

// "a newline" for the first control character in s, "" when there is none.
inline std::string control_character_in(const std::string& s) {
  for (unsigned char ch : s) {
    if (ch == '\n') return "a newline";
    if (ch == '\r') return "a carriage return";
    if (ch == '\t') return "a tab";
    if (ch < 0x20 || ch == 0x7f) return "control character " + std::to_string(int(ch));
  }
  return "";
}

// Free text on one line (titles, labels, paths): any character but control ones.
inline void check_one_line(const std::string& s, const std::string& where) {
  const std::string bad = control_character_in(s);
  if (!bad.empty())
    throw Error(where + ": found " + bad + " in '" + s.substr(0, s.find_first_of("\r\n")) +
                "...', expected text on one line");
}

// One folder name inside a given folder: one line, no '/', not '.' or '..'.
inline void check_folder_name(const std::string& s, const std::string& where) {
  check_one_line(s, where);
  if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos)
    throw Error(where + ": found '" + s +
                "', expected a folder name (not empty, no '/', not '.' or '..')");
}

}  // namespace qat
