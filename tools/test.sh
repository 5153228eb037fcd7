#!/usr/bin/env bash
# Set up (tools/bootstrap.sh) and run the whole test suite: unit tests,
# functional tests on the embedded vCenter simulator, style checks, and the
# OpenStack integration tests (Cinder and Nova from PyPI), and tempest's
# volume API tests against a real OpenStack on loopback (tox -e openstack),
# and the active-active check: a cinder-volume of a two-service cluster
# killed during a burst of operations (tox -e openstack-cluster, ~3 min).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
exec "${PYTHON:-python3}" -m tox -e "${TOX_ENVS:-py3,functional,pep8,cinder,nova-interop,openstack,openstack-cluster}" "$@"
