#!/usr/bin/env bash
# Installs the web app's pinned npm packages (web/package-lock.json) and copies the assets the
# browser needs into web/public, so parley serve ships everything from its own origin.
#   scripts/web.sh          the web app's packages and assets
#   scripts/web.sh --tests  also the browser tests' packages (tests/browser/package-lock.json)
# Idempotent and quick when nothing changed: npm runs only when a lock file is newer than the
# installed tree.
set -euo pipefail
cd "$(dirname "$0")/.."

npm_ci() { # dir
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "web: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

npm_ci web
if [ "${1:-}" = "--tests" ]; then npm_ci tests/browser; fi

NHS=web/node_modules/nhsuk-frontend/dist/nhsuk
OUT=web/public
stamp=$OUT/vendor/.stamp
if [ -f "$stamp" ] && [ "$stamp" -nt web/package-lock.json ] && [ "$stamp" -nt "$0" ]; then exit 0; fi

rm -rf "$OUT/vendor" "$OUT/assets"
mkdir -p "$OUT/vendor" "$OUT/assets/images"
# The stylesheet names its Frutiger web font on the NHS's own font host. Parley serves nothing
# from another origin (and its CSP would refuse it), so the @font-face rules are dropped and the
# design system's own fallback (Arial) is used.
sed -E 's/@font-face\{[^}]*\}//g' "$NHS/nhsuk-frontend.min.css" > "$OUT/vendor/nhsuk-frontend.min.css"
if grep -q 'https://' "$OUT/vendor/nhsuk-frontend.min.css"; then
  echo "web: the NHS.UK stylesheet still names another origin" >&2; exit 1
fi
cp "$NHS/nhsuk-frontend.min.js" "$OUT/vendor/nhsuk-frontend.min.js"
cp "$NHS"/assets/images/*.svg "$NHS"/assets/images/*.png "$NHS"/assets/images/favicon.ico \
   "$OUT/assets/images/"
# The QR code on the two-factor enrolment page is drawn in the browser: the secret never leaves.
cp web/node_modules/qrcode-generator/dist/qrcode.mjs "$OUT/vendor/qrcode.js"
touch "$stamp"
