#!/usr/bin/env bash
# The README's demo command: set-up, build, then skiff-echo on its embedded
# default (its own namespaces and veth pair, driven by kernel clients).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$top/tests/host/setup.sh"
cd "$top"
cmake --preset release
cmake --build --preset release -j "$(nproc)"
echo "skiff-echo is not built yet: the demo arrives with the apps issue (see README's status table)." >&2
exit 1
