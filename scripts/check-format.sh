#!/usr/bin/env bash
# Every C++ file of the repo is formatted with the repo's .clang-format.
set -u
cd "${1:-.}"
files=$(git ls-files '*.cpp' '*.hpp' '*.cc' 2>/dev/null)
[ -n "$files" ] || files=$(find config pipeline daemon mock tests bench -name '*.cpp' -o -name '*.hpp')
if ! command -v clang-format >/dev/null; then echo "check-format: clang-format missing"; exit 1; fi
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files && echo "check-format: $(echo $files | wc -w) files formatted"
