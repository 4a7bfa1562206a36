// A test hook for the writer side (tests/experiments/training/test_chaos.cpp):
// with QAT_FAULT_KILL_AT_WRITE=n in the environment, the process kills
// itself with SIGKILL at the n-th point where a file is half written or
// written but not yet renamed into place. Without it, nothing happens.
#pragma once

namespace qat {

void write_fault_point();
bool write_faults_armed();  // the variable is set

}  // namespace qat
