#!/usr/bin/env bash
# What the workbench's browser tests need, installed when missing: Chromium and its
# WebDriver from Debian's packages (no browser is downloaded by a test tool), the CJK fonts
# that render the Chinese pages, and Selenium and pytest from PyPI.
set -euo pipefail

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c "import selenium, pytest" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check selenium pytest
fi
