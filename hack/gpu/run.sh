#!/bin/sh
# Run the NVML check on a GPU machine with only Python 3 and this repository.
# A venv that sees the system's packages (an nvidia-ml-py already there is used); pip may add
# nvidia-ml-py when an index is reachable, and the check runs without it (ctypes) when not.
# Arguments go to nvml_check.py, e.g. --expect-gpus 8 or --instance-type ml.p5e.48xlarge.
set -u
here=$(cd "$(dirname "$0")" && pwd)
venv=${NVML_CHECK_VENV:-/tmp/hyperpod-deps-nvml-check}
python3 -m venv --system-site-packages "$venv" >/dev/null 2>&1 || venv=""
if [ -n "$venv" ]; then
    timeout 60 "$venv/bin/pip" install --quiet --disable-pip-version-check nvidia-ml-py >/dev/null 2>&1 \
        || echo "nvidia-ml-py not installed (no index?): using ctypes" >&2
    exec "$venv/bin/python" "$here/nvml_check.py" "$@"
fi
exec python3 "$here/nvml_check.py" "$@"
