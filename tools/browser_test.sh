#!/usr/bin/env bash
# Run the real-browser test of a lesson (tests/browser/test_jupyterlab.py, see docs/browser-test.md):
# JupyterLab on 127.0.0.1, driven by Playwright in the system's headless Chromium.
#
#   tools/browser_test.sh [extra pytest arguments]
#
# Run it from the virtualenv where minivid is installed (`pip install -e ".[dev]"`); `python`
# is that env's interpreter (override with PYTHON=...). What it installs when missing:
#   - Chromium, with apt-get (Debian's `chromium`, /usr/bin/chromium), and a small CJK font
#     (fonts-wqy-microhei) so the Chinese captions show in the screenshot;
#   - the `playwright` Python package, into the active env. Playwright drives the system
#     Chromium: `playwright install` (its own browser download) is neither needed nor used.
# Then it runs the test with MINIVID_REQUIRE_BROWSER=1, so a missing piece FAILS instead of
# skipping, and prints where the screenshot went.
#
# Settings (environment): MINIVID_BROWSER_NOTEBOOK (default notebooks/00_welcome.ipynb),
# MINIVID_BROWSER_DROPDOWN (default colour), MINIVID_CHROMIUM (default /usr/bin/chromium),
# MINIVID_ARTIFACTS (default tests/browser/artifacts), MINIVID_BROWSER_TIMEOUT (default 300 s).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python}
CHROMIUM=${MINIVID_CHROMIUM:-/usr/bin/chromium}
ARTIFACTS=${MINIVID_ARTIFACTS:-tests/browser/artifacts}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
START=$(now)

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "!!! need root (or sudo) for: $*" >&2; return 1
  fi
}

apt_install() {
  echo "=== apt-get install -y $*"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# --- the python env
if ! command -v "$PYTHON" >/dev/null; then
  echo "!!! no '$PYTHON' on PATH: activate the virtualenv where minivid is installed (or set PYTHON)" >&2
  exit 1
fi
echo "=== python: $(command -v "$PYTHON") ($("$PYTHON" --version 2>&1))"
if ! "$PYTHON" -c "import minivid, jupyterlab, ipywidgets, pytest" 2>/dev/null; then
  echo "!!! this env lacks minivid / jupyterlab / ipywidgets / pytest: install the repo first, as README.md says" >&2
  echo "    (pip install torch==2.13.0 && pip install -e \".[dev]\")" >&2
  exit 1
fi

# --- Chromium (system package) and a CJK font for the captions
if [[ ! -x $CHROMIUM ]]; then
  if [[ $CHROMIUM != /usr/bin/chromium ]]; then
    echo "!!! MINIVID_CHROMIUM=$CHROMIUM is not an executable" >&2
    exit 1
  fi
  apt_install chromium fonts-wqy-microhei
elif command -v fc-list >/dev/null && ! fc-list :lang=zh | grep -q . && command -v apt-get >/dev/null; then
  apt_install fonts-wqy-microhei || echo "(no CJK font: Chinese captions will show as boxes in the screenshot)"
fi
echo "=== chromium: $("$CHROMIUM" --version 2>/dev/null | tail -n 1)"

# --- playwright (the Python package; it brings its own driver)
if ! "$PYTHON" -c "import playwright" 2>/dev/null; then
  echo "=== pip install playwright"
  "$PYTHON" -m pip install --quiet playwright
fi
echo "=== playwright: $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
echo "=== setup: $(elapsed "$START") s"

# --- the test
export MINIVID_REQUIRE_BROWSER=1
export MINIVID_ARTIFACTS=$ARTIFACTS
TEST_START=$(now)
set +e
"$PYTHON" -m pytest tests/browser -m browser -n 0 -v -s "$@"
rc=$?
set -e
echo "=== test: $(elapsed "$TEST_START") s (exit $rc); total $(elapsed "$START") s"
shots=$(ls -1 "$ARTIFACTS"/*.png 2>/dev/null || true)
if [[ -n $shots ]]; then
  echo "=== screenshot(s):"
  for f in $shots; do echo "  $(cd "$(dirname "$f")" && pwd)/$(basename "$f")"; done
else
  echo "=== no screenshot in $ARTIFACTS"
fi
echo "=== server log: $ARTIFACTS/jupyterlab-server.log"
exit "$rc"
