#!/usr/bin/env bash
# Set up everything pytest-fioloadgen needs on a Debian machine with only Python, then
#   ./bootstrap.sh bench [pytest args]   run the shipped benchmark suite (local backend),
#                                        writing report.html and the history store
#                                        (lean venv .venv-bench: the core and html extra)
#   ./bootstrap.sh test  [pytest args]   run lint, type checks and the project's tests (unit
#                                        tests on both cores, the rest one at a time)
#                                        (venv .venv: editable, test and lint toolchain)
# Idempotent: a second run reuses the virtualenv and only installs what is missing.
# Quiet: only fio's and pytest's output, and a line for each thing it installs.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
  bench|test|setup) ;;
  *) echo "usage: $0 bench|test|setup [pytest arguments]" >&2; exit 2 ;;
esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v fio >/dev/null || { echo "installing fio (apt)"; apt_install fio; }
# Local fio servers and every fio client run confined in a bubblewrap sandbox.
command -v bwrap >/dev/null || { echo "installing bubblewrap (apt)"; apt_install bubblewrap; }
if [ "$mode" = test ]; then
  # The confinement tests judge fio's real file accesses with strace, and every profile
  # of Debian's fio-examples must get a verdict from the policy.
  command -v strace >/dev/null || { echo "installing strace (apt)"; apt_install strace; }
  [ -d /usr/share/doc/fio/examples ] || { echo "installing fio-examples (apt)"; apt_install fio-examples; }
  # Browser tests drive Debian's Chromium (no browser downloads); the Kubernetes emulator
  # gives pods their own network namespaces with iproute2.
  command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    || { echo "installing chromium (apt)"; apt_install chromium chromium-driver; }
  command -v ip >/dev/null || apt_install iproute2
fi

# bench gets its own lean venv with what the benchmark suite needs (the core and the html
# extra) installed as a user would (`pip install .[html]`, not editable: no setuptools
# editable-install warning, and it checks the built package). test/setup get the
# development venv: editable, with the test and lint toolchain (about 600 MB).
# -qq: pip prints only errors (this machine's pip config adds index warnings otherwise).
pip_install() { "$venv/bin/python" -m pip install -qq "$@"; }
make_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; }
  fi
}
if [ "$mode" = bench ]; then
  venv=${FIOLOADGEN_BENCH_VENV:-.venv-bench}
  make_venv
  # A non-editable install is a copy: reinstall when any packaged source changed.
  sources=$(find pyproject.toml pytest_fioloadgen server profiles -type f \
              -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum)
  stamp="$venv/.installed-$(printf %s "$sources" | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    echo "installing pytest-fioloadgen[html] into $venv"
    pip_install --upgrade pip
    pip_install --force-reinstall --no-deps .
    pip_install '.[html]'
    rm -f "$venv"/.installed-*
    touch "$stamp"
  fi
else
  venv=${FIOLOADGEN_VENV:-.venv}
  make_venv
  stamp="$venv/.installed-$(sha256sum < pyproject.toml | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    pip_install --upgrade pip
    pip_install -e '.[test,lint]'
    touch "$stamp"
  fi
fi

case "$mode" in
  setup) echo "set up: $venv (fio $(fio --version))" ;;
  bench)
    exec "$venv/bin/pytest" -m benchmark benchmarks/ -p no:cacheprovider \
      --html=report.html --self-contained-html "$@" ;;
  test)
    "$venv/bin/ruff" check pytest_fioloadgen server tests benchmarks
    "$venv/bin/ruff" format --check pytest_fioloadgen server tests benchmarks
    "$venv/bin/mypy"
    "$venv/bin/lint-imports"
    if [ $# -gt 0 ]; then exec "$venv/bin/pytest" --run-slow "$@"; fi
    # Two cores: the tests that measure with fio run one after another in one pytest
    # (conftest.py's MEASURE_NOTHING lists the others), while a second pytest runs the
    # unit, server and page tests beside it; its output follows when both are done.
    rest_log=$(mktemp)
    "$venv/bin/pytest" --run-slow --suite-part rest -p no:cacheprovider --durations=10 \
      tests/browser tests/unit tests/integration > "$rest_log" 2>&1 &
    rest=$!
    measuring_status=0
    "$venv/bin/pytest" --run-slow --suite-part measuring --durations=15 \
      tests/browser tests/integration tests/plugin || measuring_status=$?
    rest_status=0
    wait "$rest" || rest_status=$?
    echo "=== the tests that measure nothing, run beside them (exit $rest_status) ==="
    cat "$rest_log"
    rm -f "$rest_log"
    [ "$measuring_status" -eq 0 ] && [ "$rest_status" -eq 0 ] ;;
esac
