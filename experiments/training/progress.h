// A progress line: epoch, step, loss and time left. On a terminal it
// redraws one line in place; otherwise (logs, CI) it prints a plain line now
// and then, so a log file is not a wall of carriage returns.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace qat {

class Progress {
 public:
  Progress(int64_t epochs, int64_t steps_per_epoch, int64_t first_epoch);
  void update(int64_t epoch, int64_t step, double loss);  // step within the epoch, 1-based
  void finish_epoch(const std::string& summary);
  void note(const std::string& line);  // a line of its own, between updates

 private:
  double seconds_left() const;
  int64_t epochs_, steps_, first_epoch_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

std::string format_duration(double seconds);

}  // namespace qat
