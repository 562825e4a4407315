#!/usr/bin/env bash
# System packages the tests need beyond Python wheels, from Debian: Chromium for the web UI tests
# (tests/browser; never a downloaded browser build), DejaVu fonts for the Vietnamese PDF forms and
# poppler-utils (pdftoppm) to rasterise a page of each form for a human look (tests/test_forms.py),
# and tshark, which reads packet captures (collectors/pcap.py; tests/test_collectors_pcap.py).
# Playwright for Python comes with the dev extra (its own browser download is never used).
# Idempotent: installs nothing when everything is present. Kafka, Elasticsearch and PostgreSQL
# are scripts/services.sh's business.
set -euo pipefail

CHROMIUM="${SOC_CHROMIUM:-/usr/bin/chromium}"
FONT="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
[ -f "$FONT" ] || [ -n "${SOC_FORMS_FONT_DIR:-}" ] || missing+=(fonts-dejavu-core)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)

if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "system-deps: missing ${missing[*]} and no apt-get here; install them (or set SOC_CHROMIUM / SOC_FORMS_FONT_DIR)" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "system-deps: installing ${missing[*]} from Debian" >&2
    if [[ " ${missing[*]} " == *" tshark "* ]]; then
        # Do not ask whether non-root users may capture (the dumpcap setuid question): answer no.
        echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system-deps: $(tshark --version 2>/dev/null | head -n 1 || echo "tshark")" >&2
echo "system-deps: $("$CHROMIUM" --version 2>/dev/null || echo "chromium at $CHROMIUM")" >&2
