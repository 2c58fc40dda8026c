/* bundle: the socket.io-client browser bundle the broker serves under
 * broker_path (Socket.IO's serveClient). share/socket.io-client/ is compiled
 * into the binary by broker/bundle_gen.sh: nothing to install or find at run
 * time, and the bytes served are the ones the tree holds. */
#ifndef PD_BUNDLE_H
#define PD_BUNDLE_H

#include <stddef.h>

struct bundle_file {
	const char *name;          /* "socket.io.min.js" */
	const char *etag;          /* quoted, from the file's SHA-256 */
	const unsigned char *data; /* the file's bytes */
	size_t len;
	const unsigned char *gz; /* the same, gzip -9 */
	size_t gzlen;
};

extern const struct bundle_file bundle_files[];
extern const size_t bundle_nfiles;

#endif
