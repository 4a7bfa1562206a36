#include "autograd/work_parts.h"

namespace qat {
namespace {
int g_parts = 0;  // 0: kWorkParts
}

void set_work_parts(int parts) { g_parts = parts > 0 ? parts : 0; }

int work_parts() { return g_parts > 0 ? g_parts : kWorkParts; }

}  // namespace qat
