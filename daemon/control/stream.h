/* SPDX-License-Identifier: MIT */
/*
 * A record stream: one TCP connection carrying TLS 1.3 and, inside it, records (proto/record.h)
 * in both directions, driven by the event loop. The control channel uses it on both ends (the
 * server's connections, the agent's connection to its server, `vertex register`).
 *
 * The owner gives three callbacks. on_established runs once the handshake verified the peer (the
 * peer may have presented no certificate if the TLS context allows that). on_record runs for each
 * complete record; it returns false if it closed the stream. on_closed runs exactly once, with a
 * reason, after which the stream is freed -- but never while one of the other two callbacks is
 * still running: a callback may close its stream (or have it closed by a failed send) and keep
 * using the pointer until it returns.
 *
 * Bounds: a record body larger than STREAM_RECORD_MAX closes the stream; the output buffer is
 * STREAM_WBUF_SIZE (a send that does not fit returns false); a stream not established within its
 * deadline (STREAM_HANDSHAKE_MS by default) is closed, so half-open and slowloris connections
 * cost nothing for long.
 */
#ifndef VERTEX_STREAM_H
#define VERTEX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct tls_ctx;
struct tls_conn;
struct ctlmsg;
struct stream;

enum {
	STREAM_RECORD_MAX = 40000, /* the largest control message is two 16 KiB blobs */
	STREAM_WBUF_SIZE = 256 * 1024,
	STREAM_WBUF_LOW =
	    16 * 1024, /* a server's back-pressure threshold (stream_set_backpressure) */
	STREAM_HANDSHAKE_MS = 10000,
};

struct stream_ops {
	void (*on_established)(struct stream *s);
	bool (*on_record)(struct stream *s, uint16_t type, const uint8_t *body, size_t len);
	void (*on_closed)(struct stream *s, const char *why);
};

/* Takes fd (a connected or connecting TCP socket); on failure fd is closed. */
int stream_new(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx, int fd,
	       bool is_client, const char *expected, const struct sockaddr_storage *remote,
	       const struct stream_ops *ops, void *arg);
/*
 * Dials to and starts a client stream. server_name (or NULL) is the domain whose server we want,
 * sent as the TLS server name so that a server hosting several domains answers as that one.
 */
int stream_connect(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx,
		   const struct sockaddr_storage *to, const char *server_name, const char *expected,
		   const struct stream_ops *ops, void *arg);

/*
 * The same from fd, a socket the caller made (bound to a port of its choosing, say), which
 * this connects; fd is taken, closed on failure too.
 */
int stream_connect_fd(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx, int fd,
		      const struct sockaddr_storage *to, const char *server_name,
		      const char *expected, const struct stream_ops *ops, void *arg);
/*
 * A TCP simultaneous open (docs/direct-paths.md): fd connects (or is connecting) to the peer,
 * which connects to us at the same time, so neither side is the natural TLS server. Once the
 * connection is up, TLS runs as the client (tls_client, expecting the name `expected`) or as
 * the server (the owner checks the certificate's name, as for an accepted connection).
 */
int stream_new_simopen(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx, int fd,
		       bool tls_client, const char *expected, const struct sockaddr_storage *remote,
		       const struct stream_ops *ops, void *arg);

bool stream_send(struct stream *s, uint16_t type, const void *body, size_t len);
/* Encodes and sends a control message; false if it does not encode or fit. */
bool stream_send_msg(struct stream *s, const struct ctlmsg *m);
/* Closes now (on_closed runs with why before this returns). */
void stream_close(struct stream *s, const char *why);

void *stream_arg(const struct stream *s);
void stream_set_arg(struct stream *s, void *arg);
struct tls_conn *stream_tls(const struct stream *s);
const struct sockaddr_storage *stream_remote(const struct stream *s);
/* Closes the stream with "timed out" after ms unless re-armed; 0 disarms. */
void stream_set_deadline(struct stream *s, uint64_t ms);
/*
 * For a stream that carries traffic rather than the odd message (a peer link's FRAME records):
 * its buffers, once grown, stay allocated instead of being freed or shrunk after each burst.
 */
void stream_set_bulk(struct stream *s);
/*
 * Records sent in one loop turn are written together, as few TLS records and system calls as
 * they fill (16 KiB each), at the end of the turn or as soon as 16 KiB wait. For streams that
 * carry bursts of small records (relayed frames); costs at most one turn of latency.
 */
void stream_set_coalesce(struct stream *s);
/*
 * Back-pressure for a stream that answers requests (the server's connections): while more than
 * limit bytes of output wait for the other side to read them, no further record is read or
 * handed to on_record; reading resumes once the output is down to limit. Sends still work up to
 * STREAM_WBUF_SIZE (so what the owner pushes on its own, a revocation list say, still goes out),
 * but a client that sends requests and never reads their answers holds about limit bytes of
 * output, one record of input and what TLS buffers, not STREAM_WBUF_SIZE. 0 turns it off.
 */
void stream_set_backpressure(struct stream *s, size_t limit);
/* Output bytes waiting to be written (for tests and benchmarks). */
size_t stream_pending_output(const struct stream *s);
/* "connect", "handshake" or "session": where the stream is (for logs, e.g. in on_closed). */
const char *stream_phase(const struct stream *s);

#endif
