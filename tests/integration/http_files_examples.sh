#!/usr/bin/env bash
# examples/http_static and examples/http_upload, driven with curl as a user
# would, in BASE and PROCESS mode: the static example serves a directory
# (exact bytes, Content-Type, index.html, 304 by ETag, a Range, 403 for a
# way out, its listing for what is missing; with -P its "/" page), refuses
# to start on a missing directory with a clear error; the upload example
# shows its form and summarises fields and files (sizes and CRC-32 checked
# against python's zlib), answers 413 for a file over -s, and leaves nothing
# in its upload directory. Each is started with -p 0, found by its
# listening line, and must exit 0 on SIGTERM (SIGINT for one of them).
set -euo pipefail

# shellcheck source=../common/lib.sh
. "${EDDY_SOURCE_DIR:?EDDY_SOURCE_DIR must name the source directory}/tests/common/lib.sh"
ex=$build/examples
need curl

get() { curl -sS --max-time 10 "$@"; }

# ---- the tree served --------------------------------------------------------------
site=$work/site
mkdir -p "$site/docs" "$site/plain"
printf 'outside the root\n' >"$work/secret.txt"
head -c 50000 /dev/urandom >"$site/data.bin"
printf '<h1>docs</h1>\n' >"$site/docs/index.html"
printf 'a & b <c>\n' >"$site/plain/notes.txt"
ln -s ../secret.txt "$site/escape"

if "$ex/http_static" -d "$work/nowhere" -p 0 >"$work/bad.out" 2>"$work/bad.err"; then
  fail "http_static started on a missing directory"
fi
grep -q "nowhere" "$work/bad.err" || fail "no clear error for a missing directory: $(cat "$work/bad.err")"
grep -qi "no such file" "$work/bad.err" || fail "no reason for a missing directory: $(cat "$work/bad.err")"

for mode in base process; do
  start http_static "$ex/http_static" -d "$site" -p 0 -w 1 -m $mode
  base=http://127.0.0.1:$PORT
  get -o "$work/got.bin" "$base/data.bin"
  cmp -s "$work/got.bin" "$site/data.bin" || fail "$mode: data.bin differs"
  get -D "$work/h" -o /dev/null "$base/data.bin"
  grep -qi '^Content-Type: application/octet-stream' "$work/h" || fail "$mode: type: $(cat "$work/h")"
  etag=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' "$work/h")
  [ -n "$etag" ] || fail "$mode: no ETag"
  code=$(get -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/data.bin")
  [ "$code" = 304 ] || fail "$mode: If-None-Match gave $code"
  [ "$(get -r 100-109 "$base/data.bin" | od -An -tx1)" = "$(head -c 110 "$site/data.bin" | tail -c 10 | od -An -tx1)" ] ||
    fail "$mode: range bytes differ"
  [ "$(get "$base/docs/")" = "<h1>docs</h1>" ] || fail "$mode: index.html"
  [ "$(get "$base/plain/notes.txt")" = "a & b <c>" ] || fail "$mode: notes.txt"
  code=$(get -o "$work/esc" -w '%{http_code}' --path-as-is "$base/../secret.txt")
  [ "$code" = 403 ] || fail "$mode: .. gave $code"
  code=$(get -o "$work/esc2" -w '%{http_code}' "$base/escape")
  [ "$code" = 403 ] || fail "$mode: a symlink out gave $code"
  ! grep -q "outside" "$work/esc" "$work/esc2" || fail "$mode: the outside file was served"
  page=$(get -w '\n%{http_code}' "$base/missing.txt")
  echo "$page" | tail -1 | grep -qx 404 || fail "$mode: missing: $page"
  echo "$page" | grep -q 'Not found: /missing.txt' || fail "$mode: missing page: $page"
  echo "$page" | grep -q '<a href="/data.bin">data.bin</a>' || fail "$mode: listing: $page"
  stop "$PID" http_static

  # A prefix: the files under /files, the listing at /.
  start http_static_prefix "$ex/http_static" -d "$site" -P /files -p 0 -w 1 -m $mode
  base=http://127.0.0.1:$PORT
  [ "$(get "$base/files/docs/")" = "<h1>docs</h1>" ] || fail "$mode: prefix index"
  page=$(get -w '\n%{http_code}' "$base/")
  echo "$page" | tail -1 | grep -qx 200 || fail "$mode: prefix home: $page"
  echo "$page" | grep -q '<a href="/files/plain">plain</a>' || fail "$mode: prefix listing: $page"
  [ "$(get -o /dev/null -w '%{http_code}' "$base/data.bin")" = 404 ] || fail "$mode: outside the prefix"
  stop "$PID" http_static_prefix INT # Ctrl-C

  # ---- uploads ----------------------------------------------------------------------
  up=$work/uploads-$mode
  mkdir -p "$up"
  head -c 300000 /dev/urandom >"$work/photo.jpg"
  head -c 100001 /dev/urandom >"$work/big.bin"
  start http_upload "$ex/http_upload" -u "$up" -s 100000 -p 0 -w 1 -m $mode
  base=http://127.0.0.1:$PORT
  get "$base/" | grep -q 'enctype="multipart/form-data"' || fail "$mode: no form"
  get -F title=holiday -F "file=@$work/photo.jpg;type=image/jpeg" -F "file=@$site/plain/notes.txt" \
    "$base/upload" >"$work/summary"
  # photo.jpg is 300000 bytes: over -s 100000.
  grep -q "413" "$work/summary" || fail "$mode: a file over -s: $(cat "$work/summary")"
  [ -z "$(ls -A "$up")" ] || fail "$mode: left in $up after a 413: $(ls "$up")"
  head -c 99999 "$work/photo.jpg" >"$work/small.jpg"
  get -F title=holiday -F "file=@$work/small.jpg;type=image/jpeg" -F "file=@$site/plain/notes.txt" \
    "$base/upload" >"$work/summary"
  crc() { python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$1"; }
  grep -qx "1 field(s), 2 file(s)" "$work/summary" || fail "$mode: counts: $(cat "$work/summary")"
  grep -qx "field title = holiday" "$work/summary" || fail "$mode: field: $(cat "$work/summary")"
  grep -qx "file file: filename=small.jpg size=99999 type=image/jpeg crc32=$(crc "$work/small.jpg")" "$work/summary" ||
    fail "$mode: small.jpg: $(cat "$work/summary")"
  grep -qx "file file: filename=notes.txt size=10 type=text/plain crc32=$(crc "$site/plain/notes.txt")" "$work/summary" ||
    fail "$mode: notes.txt: $(cat "$work/summary")"
  [ -z "$(ls -A "$up")" ] || fail "$mode: left in $up: $(ls "$up")"
  code=$(get -o /dev/null -w '%{http_code}' -H 'Content-Type: multipart/form-data; boundary=x' \
    --data-binary 'not multipart' "$base/upload")
  [ "$code" = 400 ] || fail "$mode: malformed gave $code"
  stop "$PID" http_upload
  echo "ok: http_static and http_upload in $mode mode"
done
