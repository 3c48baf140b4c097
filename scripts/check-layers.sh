#!/usr/bin/env bash
# The layers, bottom up: pipeline/ (pure core) and av/ (shared FFmpeg handles), config/, daemon/
# (the product library), then the executable's own app/ and the mock/. Each includes only what is below it; the product library
# and the configuration know nothing of the fake provider.
set -u
root=${1:-.}
cd "$root" || exit 2
bad=0
check() {  # check DIR PATTERN WHAT
    if grep -rnE --include='*.cpp' --include='*.hpp' "$2" "$1"; then
        echo "check-layers: $1 $3 (above)"; bad=1
    fi
}
check av '#include *"[a-z_]+/' "includes a layer of ours (it is header-only, above FFmpeg only)"
check pipeline '#include *"(av|config|daemon|mock|app)/' "includes a layer above it"
check config '#include *"(daemon|mock|app)/' "includes a layer above it"
check daemon '#include *"(mock|app)/' "includes the mock or the executable"
check config '[Mm]ock' "knows of the mock"
[ $bad -eq 0 ] && echo "check-layers: every layer includes only what is below it"
exit $bad
