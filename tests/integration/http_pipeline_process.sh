#!/usr/bin/env bash
# http_pipeline.c again, with the server in PROCESS mode: the HTTP framing runs in the
# master's reactor threads and whole requests reach the worker.
set -euo pipefail
EDDY_TEST_SERVER_MODE=process exec "${EDDY_BUILD_DIR:?}/tests/integration_http_pipeline"
