/* SPDX-License-Identifier: MIT */
/*
 * Session keys and data-frame crypto (DESIGN §4.3).
 *
 * A keypair is what one TLS handshake produced: a key for each direction (from the TLS exporter),
 * our receiver index (the peer puts it on frames it sends us) and the peer's (from its HELLO),
 * the send counter and the replay window. A peer holds its current keypair and the previous one,
 * so frames sealed with the old keys still open during a rekey.
 *
 * session_seal()/session_open() work in place on a struct pkt: seal prepends the 16-byte header
 * into the headroom and appends the tag into the tailroom; open does the reverse. Neither
 * allocates.
 *
 * Two ciphers (crypto/aead.h), each with keys of its own from the TLS exporter: ChaCha20-Poly1305
 * (label SESSION_EXPORTER_LABEL), which every agent has, and AES-256-GCM (label
 * SESSION_EXPORTER_LABEL_AES), which an agent on a CPU with AES-NI also derives, and then opens
 * frames of type FRAME_DATA_AES; it says so to the peer in a CIPHERS record before its HELLO
 * (proto/record.h). A side seals with AES-256-GCM once the peer said it opens it, else with
 * ChaCha20-Poly1305; so each key is only ever used with one cipher, and either side's choice
 * works whatever the other's is. The frame's type says which key and cipher open it.
 */
#ifndef VERTEX_SESSION_H
#define VERTEX_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "session/replay.h"

struct pkt;

enum {
	/* RFC 8446 §7.5 exporter output: client->server key then server->client key. */
	SESSION_EXPORT_LEN = 2 * AEAD_KEY_LEN,
};
#define SESSION_EXPORTER_LABEL     "EXPORTER-vertex-data-v1"
#define SESSION_EXPORTER_LABEL_AES "EXPORTER-vertex-data-aes256gcm-v1"
/* A key is never used for more than this many frames (nonce reuse is impossible before 2^64). */
#define SESSION_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ull << 13))

struct keypair {
	uint8_t send_key[AEAD_KEY_LEN]; /* ChaCha20-Poly1305 */
	uint8_t recv_key[AEAD_KEY_LEN];
	uint8_t send_key_aes[AEAD_KEY_LEN]; /* AES-256-GCM, when has_aes */
	uint8_t recv_key_aes[AEAD_KEY_LEN];
	bool has_aes;  /* we derived AES-256-GCM keys: frames of type FRAME_DATA_AES open */
	bool send_aes; /* and the peer opens them too: ours are sealed with AES-256-GCM */
	uint32_t local_index;
	uint32_t remote_index; /* 0 until the peer's HELLO arrives */
	uint64_t send_counter;
	struct replay_window replay;
	uint64_t created_ms;
	bool is_initiator;    /* we were the TLS client */
	bool rekey_requested; /* the send counter passed rekey-after-packets */
	void *owner;          /* the peer, for the receive path */
	struct keypair *index_next;
};

enum session_open_result {
	SESSION_OPEN_OK = 0,
	SESSION_OPEN_REPLAY, /* counter seen before or too old */
	SESSION_OPEN_AUTH,   /* tag did not verify */
};

/* Splits exporter output into direction keys; wipes nothing (the caller wipes its buffer). */
void session_keypair_init(struct keypair *kp, const uint8_t exported[SESSION_EXPORT_LEN],
			  bool is_initiator, uint64_t now_ms);
/* AES-256-GCM keys, from SESSION_EXPORTER_LABEL_AES's output: such frames open from now on. */
void session_keypair_init_aes(struct keypair *kp, const uint8_t exported[SESSION_EXPORT_LEN]);
/* The peer opens AES-256-GCM frames: ours are sealed with it from now on (if we have its keys). */
void session_keypair_send_aes(struct keypair *kp);
void session_keypair_wipe(struct keypair *kp);
/* The cipher and key frames are sealed with now. */
enum aead_cipher session_send_cipher(const struct keypair *kp);
const uint8_t *session_send_key(const struct keypair *kp);
/* The key a frame of that type (its first byte) opens with; NULL if we do not take that type. */
const uint8_t *session_recv_key(const struct keypair *kp, uint8_t type);

/* Seals p (an inner packet, possibly empty for a keepalive) into a data frame, in place. */
bool session_seal(struct keypair *kp, struct pkt *p);
/*
 * Opens the data frame in p whose header was already decoded (counter passed in), in place:
 * afterwards p holds the inner packet. The replay window moves only if the tag verified.
 */
enum session_open_result session_open(struct keypair *kp, struct pkt *p, uint64_t counter);

/*
 * The same in steps, for the AEAD on worker threads (dataplane/crypto_pool.h): what touches the
 * keypair (the send counter, the replay window) runs on the loop, the AEAD in between is a pure
 * function of key, counter and buffer. session_seal() is _begin then _finish; session_open() is
 * replay_check(), _decrypt, then _accept.
 *
 * _begin takes the next counter into *counter and writes the header in front of p; false (and
 * p unchanged) if the key is used up or p has no room. _finish seals p after its header, with
 * the cipher its type names and key (session_send_key).
 * _decrypt checks the tag and decrypts p's payload in place (p's length is unchanged), with the
 * cipher its type names and key (session_recv_key for that type);
 * _accept moves the replay window (SESSION_OPEN_REPLAY if counter was taken meanwhile) and
 * leaves the inner packet in p.
 */
bool session_seal_begin(struct keypair *kp, struct pkt *p, uint64_t *counter);
bool session_seal_finish(const uint8_t key[AEAD_KEY_LEN], uint64_t counter, struct pkt *p);
bool session_open_decrypt(const uint8_t key[AEAD_KEY_LEN], uint64_t counter, struct pkt *p);
enum session_open_result session_open_accept(struct keypair *kp, struct pkt *p, uint64_t counter);

/* Receiver-index table: local index -> keypair. */
struct session_index;

int session_index_new(struct session_index **out);
void session_index_free(struct session_index *t);
/* Picks a random unused non-zero local index for kp and inserts it. 0 or -errno. */
int session_index_add(struct session_index *t, struct keypair *kp);
void session_index_del(struct session_index *t, struct keypair *kp);
struct keypair *session_index_find(const struct session_index *t, uint32_t index);

#endif
