#!/usr/bin/env bash
# Set up (tools/bootstrap.sh) and run the volume lifecycle demo: against the
# vCenter named in the config file given (--config-file FILE), else against
# the embedded vCenter simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
exec "${PYTHON:-python3}" -m tox -e demo -- "$@"
