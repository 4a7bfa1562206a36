// The `qat sweep` and `qat table` subcommands (sweep.h, table.h, plots.h).
#pragma once

namespace CLI {
class App;
}

namespace qat {
void add_sweep_commands(CLI::App& app);
}
