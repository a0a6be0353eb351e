#!/usr/bin/env bash
# http_static.c again, with the server in PROCESS mode: the framing runs in the
# master's reactor threads, the files are found and sent by the worker.
set -euo pipefail
EDDY_TEST_SERVER_MODE=process exec "${EDDY_BUILD_DIR:?}/tests/integration_http_static"
