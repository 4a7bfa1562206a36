#include "experiments/training/progress.h"

#include <unistd.h>

#include <cstdio>

namespace qat {

std::string format_duration(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

Progress::Progress(int64_t epochs, int64_t steps, int64_t first_epoch)
    : epochs_(epochs), steps_(steps), first_epoch_(first_epoch), tty_(isatty(STDOUT_FILENO)),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

double Progress::seconds_left() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t total = (epochs_ - first_epoch_) * steps_;
  return done_ ? elapsed / double(done_) * double(total - done_) : 0.0;
}

void Progress::update(int64_t epoch, int64_t step, double loss) {
  ++done_;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (tty_) {
    std::printf("\repoch %lld/%lld  step %lld/%lld  loss %.4f  left %s   ",
                (long long)epoch + 1, (long long)epochs_, (long long)step, (long long)steps_,
                loss, format_duration(seconds_left()).c_str());
    std::fflush(stdout);
  } else if (since >= 30.0) {  // plain lines: one every half minute at most
    std::printf("epoch %lld/%lld step %lld/%lld loss %.4f left %s\n", (long long)epoch + 1,
                (long long)epochs_, (long long)step, (long long)steps_, loss,
                format_duration(seconds_left()).c_str());
    std::fflush(stdout);
    last_print_ = now;
  }
}

void Progress::finish_epoch(const std::string& summary) { note(summary); }

void Progress::note(const std::string& line) {
  if (tty_) std::printf("\r%-100s\n", line.c_str());
  else std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace qat
