#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a program outside the
# tree against it, the way a user would: headers and flags from pkg-config,
# linked against the shared library (run with LD_LIBRARY_PATH) and, with
# `pkg-config --static`, against the static archive (runs on its own).
set -euo pipefail

build=${EDDY_BUILD_DIR:?EDDY_BUILD_DIR must name the build directory}
command -v pkg-config >/dev/null || { echo "install.sh: pkg-config is required" >&2; exit 1; }
# The compiler the build used, and its sanitizers: an instrumented libeddy
# needs an instrumented program (make asan runs this test too).
cache=$build/CMakeCache.txt
cc=${CC:-$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$cache" 2>/dev/null)}
cc=${cc:-cc}
sanitize=()
if grep -q '^EDDY_SANITIZE:BOOL=ON$' "$cache" 2>/dev/null || [ "${EDDY_SANITIZED:-0}" = 1 ]; then
  sanitize=(-fsanitize=address,undefined)
fi

prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

cmake --install "$build" --prefix "$prefix" >"$prefix/install.log" 2>&1 ||
  fail "cmake --install: $(cat "$prefix/install.log")"
[ -f "$prefix/include/eddy.h" ] && [ -f "$prefix/include/eddy/loop.h" ] || fail "headers not installed"

# GNUInstallDirs picks lib, lib64 or lib/<multiarch> depending on the prefix.
pcdir=$(find "$prefix" -name eddy.pc -path '*/pkgconfig/*' -printf '%h\n' | head -n 1)
[ -n "$pcdir" ] || fail "eddy.pc not installed"
libdir=${pcdir%/pkgconfig}
[ -e "$libdir/libeddy.so" ] && [ -f "$libdir/libeddy.a" ] || fail "libraries not in $libdir"
ok "installed into $prefix (libdir ${libdir#"$prefix"/})"

export PKG_CONFIG_PATH=$pcdir
pc=(pkg-config)
# eddy.pc must describe where it was installed, not the prefix the build was
# configured with.
cflags=$("${pc[@]}" --cflags eddy)
[[ "$cflags" == *"$prefix"* ]] || fail "eddy.pc ignores the install prefix: '$cflags'"

cat >"$prefix/hello.c" <<'EOF'
#include <stdio.h>
#include <eddy.h>

static int fired;

static void on_timer(eddy_loop_t *loop, int64_t id, void *ud)
{
    (void)loop, (void)id, (void)ud;
    fired++;
}

int main(void)
{
    eddy_loop_t *loop;
    int rc = eddy_loop_new(&loop);
    if (rc < 0) {
        printf("eddy_loop_new: %s\n", eddy_strerror(rc));
        return 1;
    }
    if (eddy_timer_after(loop, 5, on_timer, NULL) <= 0) return 1;
    rc = eddy_loop_run(loop); /* returns once the timer has run: nothing else is alive */
    eddy_loop_free(loop);
    printf("eddy %s: timer fired %d time(s), loop returned %d\n", EDDY_VERSION, fired, rc);
    printf("%s: %s\n", eddy_err_name(-EDDY_ECLOSING), eddy_strerror(-EDDY_ECLOSING));
    return fired == 1 && rc == 0 ? 0 : 1;
}
EOF
expected="EDDY_ECLOSING: connection is closing or closed"

# Shared library: the headers must compile cleanly as plain C17.
"$cc" -std=c17 -Wall -Wextra -Werror "${sanitize[@]}" -o "$prefix/hello" "$prefix/hello.c" \
  $("${pc[@]}" --cflags --libs eddy) || fail "building against the shared library"
out=$(LD_LIBRARY_PATH=$libdir "$prefix/hello") || fail "the shared-linked program failed: $out"
grep -qx "$expected" <<<"$out" || fail "unexpected output: $out"
ok "shared: $(head -n 1 <<<"$out")"

# Static library: -leddy would pick the .so, so ask the linker for the archive.
static_libs=$("${pc[@]}" --static --libs eddy)
static_libs=${static_libs//-leddy/-l:libeddy.a}
"$cc" -std=c17 -Wall -Wextra -Werror "${sanitize[@]}" -o "$prefix/hello_static" "$prefix/hello.c" \
  $("${pc[@]}" --cflags eddy) $static_libs || fail "building against the static library"
if readelf -d "$prefix/hello_static" | grep -q 'NEEDED.*libeddy'; then
  fail "the static build still needs libeddy.so"
fi
out=$(env -u LD_LIBRARY_PATH "$prefix/hello_static") || fail "the static program failed: $out"
grep -qx "$expected" <<<"$out" || fail "unexpected output: $out"
ok "static: $(head -n 1 <<<"$out")"
