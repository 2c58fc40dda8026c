# bench: load generator and benchmark scripts (not run by CI's pass/fail).
# pd-loadgen and pd-trivial-server carry their own small WebSocket and JWT
# code (bench/lg_wire.c) so that the harness never shares a bug with the
# broker it measures; they link libcrypto only.
noinst_PROGRAMS += bench/pd-loadgen bench/pd-trivial-server

bench_pd_loadgen_SOURCES = bench/loadgen.c bench/lg_hist.c bench/lg_hist.h \
	bench/lg_wire.c bench/lg_wire.h
bench_pd_loadgen_CPPFLAGS = $(AM_CPPFLAGS) $(CRYPTO_CFLAGS)
bench_pd_loadgen_LDADD = $(CRYPTO_LIBS)

bench_pd_trivial_server_SOURCES = bench/trivial_server.c bench/lg_wire.c bench/lg_wire.h
bench_pd_trivial_server_CPPFLAGS = $(AM_CPPFLAGS) $(CRYPTO_CFLAGS)
bench_pd_trivial_server_LDADD = $(CRYPTO_LIBS)

EXTRA_DIST += bench/run.sh bench/api_bench.sh bench/publish.mjs bench/e2e_post.mjs bench/node/server.mjs docs/benchmarks.md
