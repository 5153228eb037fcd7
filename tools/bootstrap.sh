#!/usr/bin/env bash
# Install what the project needs on a fresh Debian/Ubuntu machine:
# Go and the govmomi sources (to build the vCenter simulator), openssl (the
# TLS tests make their own certificates), qemu-utils (qemu-img: the driver
# converts raw/qcow2 images with it; the image tests and the simulator's
# self-check use it as the independent judge of VMDK streams) and tox.
# Idempotent; needs root (or sudo) only for the apt packages.
set -euo pipefail

APT_PACKAGES="golang-go golang-github-vmware-govmomi-dev patch openssl qemu-utils"
GOVMOMI=/usr/share/gocode/src/github.com/vmware/govmomi

if ! command -v go >/dev/null 2>&1 || ! command -v patch >/dev/null 2>&1 ||
        ! command -v openssl >/dev/null 2>&1 ||
        ! command -v qemu-img >/dev/null 2>&1 ||
        [ ! -d "$GOVMOMI" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: need Debian packages $APT_PACKAGES (no apt-get here)" >&2
        exit 2
    fi
    echo "bootstrap: installing $APT_PACKAGES" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $APT_PACKAGES >/dev/null
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -m tox --version >/dev/null 2>&1; then
    echo "bootstrap: installing tox" >&2
    "$PYTHON" -m pip install -q --disable-pip-version-check 'tox>=4'
fi
