// Running gnuplot on a script qat wrote, safely for any text in it.
// Names in a plot (a sweep's name, rows, columns, folders) come from files
// people share, so none of them may reach a shell or end a gnuplot command:
// strings go into gnuplot's single quotes (no backquote, macro or escape is
// expanded there) with every control character made a space (a newline
// would end the string and start a command such as `!rm ...`), and gnuplot
// is started without a shell, in the folder of its script.
#pragma once
#include <string>

namespace qat {

bool gnuplot_available();

// s as a gnuplot single-quoted string: ' doubled, control characters as spaces.
std::string gnuplot_quoted(const std::string& s);

// Runs `gnuplot script` in folder dir (no shell), stdout to /dev/null,
// stderr to err_file (relative to dir, or "" for /dev/null); true when it exits 0.
bool run_gnuplot(const std::string& dir, const std::string& script, const std::string& err_file);

}  // namespace qat
