#!/usr/bin/env bash
# Creates bench/.venv with the pinned packages of bench/requirements.txt.
# Safe to run again: an existing venv is reused and brought to the pinned versions.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv_dir="$bench_dir/.venv"
python="${PYTHON:-python3}"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

command -v "$python" >/dev/null || { echo "setup-venv: $python not found; install python3 (3.11 has wheels for every pin)" >&2; exit 1; }

# Debian splits venv and ensurepip out of the interpreter package.
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup-venv: the venv module is missing; installing python3-venv"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
fi

if [ ! -x "$venv_dir/bin/python" ]; then
    "$python" -m venv "$venv_dir"
fi

"$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip==25.0.1
# Wheels only: a source build of fastText would need a compiler and minutes of the shared cores.
"$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$bench_dir/requirements.txt"

# fastText 0.9.2's predict() breaks on numpy 2; fail here rather than mid-run.
"$venv_dir/bin/python" - <<'PY'
import numpy, sklearn, scipy, fasttext
assert numpy.__version__.startswith("1."), f"numpy {numpy.__version__}: fastText 0.9.2 predict needs numpy<2"
print(f"bench/.venv ready: python {__import__('sys').version.split()[0]}, numpy {numpy.__version__}, "
      f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, fasttext-wheel 0.9.2")
PY
