#!/usr/bin/env bash
# http_upload.c again, with the server in PROCESS mode: the body is framed in the
# master's reactor threads, parsed and written to temp files by the worker.
set -euo pipefail
EDDY_TEST_SERVER_MODE=process exec "${EDDY_BUILD_DIR:?}/tests/integration_http_upload"
