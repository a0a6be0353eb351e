/*
 * eddy.h — the whole public API of eddy, an event-driven network engine for C.
 *
 * Include this one header; each module's header says what it is for and who
 * owns what.
 */
#ifndef EDDY_H
#define EDDY_H

#include "eddy/common.h"
#include "eddy/error.h"
#include "eddy/buf.h"
#include "eddy/list.h"
#include "eddy/heap.h"
#include "eddy/log.h"
#include "eddy/proctitle.h"
#include "eddy/clock.h"
#include "eddy/loop.h"
#include "eddy/framing.h"
#include "eddy/http1.h"
#include "eddy/multipart.h"
#include "eddy/urlenc.h"
#include "eddy/addr.h"
#include "eddy/options.h"
#include "eddy/conn.h"
#include "eddy/listener.h"
#include "eddy/client.h"
#include "eddy/http_client.h"
#include "eddy/server.h"
#include "eddy/http_upload.h"
#include "eddy/http_static.h"
#include "eddy/http.h"

#endif
