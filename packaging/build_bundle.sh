#!/usr/bin/env bash
# Builds the one-folder app bundle dist/tokendesk/ with PyInstaller, then smoke-tests it.
#   packaging/build_bundle.sh            build + smoke test
#   packaging/build_bundle.sh --smoke    smoke-test an existing dist/tokendesk/ only
# Uses $PYTHON (default .venv/bin/python); installs PyInstaller into it if missing (the `bundle` extra).
# Steps: render icons -> build the wheel from a clean copy -> unpack it -> PyInstaller -> smoke test:
#   1. `dist/tokendesk/tokendesk --version` prints the version in the package metadata;
#   2. the desktop app, started offscreen with TOKENDESK_STARTUP_PROBE=1, paints its window, reports
#      {"painted": true, ...} and exits 0 (the probe is desktop_app/ui/app.py's).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${PYTHON:-.venv/bin/python}
app_id=dev.tokendesk.Tokendesk
bundle=dist/tokendesk
stage=build/bundle
smoke_only=0
[ "${1:-}" = --smoke ] && smoke_only=1
t0=$SECONDS
step() { printf 'build_bundle: [%3ss] %s\n' "$((SECONDS - t0))" "$*" >&2; }

if [ "$smoke_only" = 0 ]; then
  if ! "$py" -m PyInstaller --version >/dev/null 2>&1; then
    step "installing PyInstaller (the bundle extra)"
    "$py" -m pip install -q "pyinstaller>=6"
  fi

  step "rendering icons"
  "$py" packaging/build_icons.py --out build/icons >/dev/null

  step "building the wheel from a clean copy of the tree"
  rm -rf "$stage"
  mkdir -p "$stage/tree" "$stage/wheel" "$stage/src"
  # Tracked and untracked-but-not-ignored files only: no __pycache__, no stale build/lib.
  git ls-files -z -co --exclude-standard -- pyproject.toml README.md 'LICENSE*' desktop_app resources \
    | tar --null -cf - -T - | tar -xf - -C "$stage/tree"
  "$py" -m pip wheel -q --no-deps --no-cache-dir -w "$stage/wheel" "$stage/tree"
  wheel=$(ls "$stage"/wheel/tokendesk-*.whl)
  "$py" -m zipfile -e "$wheel" "$stage/src"

  step "running PyInstaller"
  rm -rf "$bundle"
  TOKENDESK_BUNDLE_SRC="$root/$stage/src" "$py" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/tokendesk.spec

  # Desktop integration files beside the program, laid out like $prefix/share for a manual install.
  mkdir -p "$bundle/share/applications" "$bundle/share/metainfo" "$bundle/share/icons"
  cp "packaging/$app_id.desktop" "$bundle/share/applications/"
  cp "packaging/$app_id.metainfo.xml" "$bundle/share/metainfo/"
  cp -r build/icons/hicolor "$bundle/share/icons/"
  step "bundle: $(du -sh "$bundle" | cut -f1) in $bundle"
fi

step "smoke test: --version"
want=$("$py" -c 'import importlib.metadata as m; print(m.version("tokendesk"))')
got=$("$bundle/tokendesk" --version)
if [ "$got" != "tokendesk $want" ]; then
  echo "build_bundle: FAIL: '$bundle/tokendesk --version' printed '$got', the metadata says $want" >&2
  exit 1
fi
echo "smoke: $got"

step "smoke test: the desktop app shows its window offscreen and quits"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
# A throwaway home: the run must neither read nor write the user's accounts, settings or autostart entry.
# No session bus, so the keychain is simply unavailable; the window must show all the same.
set +e
out=$(env -i PATH="$PATH" HOME="$home" LANG=C.UTF-8 XDG_CONFIG_HOME="$home/config" XDG_STATE_HOME="$home/state" \
  XDG_DATA_HOME="$home/data" XDG_CACHE_HOME="$home/cache" XDG_RUNTIME_DIR="$home/run" \
  QT_QPA_PLATFORM=offscreen TOKENDESK_STARTUP_PROBE=1 timeout 60 "$bundle/tokendesk" 2>&1)
rc=$?
set -e
if [ "$rc" != 0 ] || ! grep -q '"painted": true' <<<"$out"; then
  echo "build_bundle: FAIL: the desktop app exited $rc without reporting its first paint; its output:" >&2
  echo "$out" >&2
  exit 1
fi
echo "smoke: window shown, exit 0"
step "done"
