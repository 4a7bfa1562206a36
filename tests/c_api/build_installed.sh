#!/usr/bin/env bash
# Installs a qat build into a staging folder (meson install --destdir) and
# builds tests/c_api/use_runtime.c against the installed library the way a
# user's program would, through pkg-config; prints the program's path.
#
#   build_installed.sh BUILD_DIR OUT_DIR [extra cc flags, e.g. -fsanitize=address]
set -euo pipefail
build=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out/stage"
meson install -C "$build" --destdir "$out/stage" --no-rebuild --quiet >/dev/null
pc=$(dirname "$(find "$out/stage" -name qat-runtime.pc | head -n 1)")
# The .pc's prefix moved to where it was staged, as if installed there.
export PKG_CONFIG_PATH=$pc
staged=(--define-variable=prefix="$out/stage$(pkg-config --variable=prefix qat-runtime)")
flags=$(pkg-config "${staged[@]}" --cflags --libs qat-runtime)
cc -std=c11 -Wall -Wextra -Werror "$here/use_runtime.c" $flags "$@" -o "$out/use_runtime"
echo "$out/use_runtime"
pkg-config "${staged[@]}" --variable=libdir qat-runtime
