/* app: the namespaces each profile serves. The main profile's table is in
 * app.c; the protocol-testing profiles (contract 6) are in profiles.c. */
#ifndef PD_APP_H
#define PD_APP_H

#include <stddef.h>

#include "eio.h"
#include "sio.h"

extern const struct sio_nsp_def app_nsps[];
extern const size_t app_nnsps;

extern const struct sio_nsp_def conformance_nsps[];
extern const size_t conformance_nnsps;

extern const struct sio_nsp_def bench_nsps[];
extern const size_t bench_nnsps;

/* engineio-echo: Engine.IO only, every message echoed as it came. */
extern const struct eio_ops echo_eio_ops;

#endif
