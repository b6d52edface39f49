// SPDX-License-Identifier: MIT
/*
 * Keypairs and in-place sealing/opening of data frames.
 */
#include "session/session.h"

#include <string.h>

#include "core/pkt.h"
#include "proto/frame.h"

void
session_keypair_init(struct keypair *kp, const uint8_t exported[SESSION_EXPORT_LEN],
		     bool is_initiator, uint64_t now_ms)
{
	const uint8_t *client_key = exported, *server_key = exported + AEAD_KEY_LEN;

	memset(kp, 0, sizeof(*kp));
	memcpy(kp->send_key, is_initiator ? client_key : server_key, AEAD_KEY_LEN);
	memcpy(kp->recv_key, is_initiator ? server_key : client_key, AEAD_KEY_LEN);
	kp->is_initiator = is_initiator;
	kp->created_ms = now_ms;
	replay_init(&kp->replay);
}

void
session_keypair_init_aes(struct keypair *kp, const uint8_t exported[SESSION_EXPORT_LEN])
{
	const uint8_t *client_key = exported, *server_key = exported + AEAD_KEY_LEN;

	memcpy(kp->send_key_aes, kp->is_initiator ? client_key : server_key, AEAD_KEY_LEN);
	memcpy(kp->recv_key_aes, kp->is_initiator ? server_key : client_key, AEAD_KEY_LEN);
	kp->has_aes = true;
}

void
session_keypair_send_aes(struct keypair *kp)
{
	kp->send_aes = kp->has_aes;
}

void
session_keypair_wipe(struct keypair *kp)
{
	crypto_wipe(kp->send_key, sizeof(kp->send_key));
	crypto_wipe(kp->recv_key, sizeof(kp->recv_key));
	crypto_wipe(kp->send_key_aes, sizeof(kp->send_key_aes));
	crypto_wipe(kp->recv_key_aes, sizeof(kp->recv_key_aes));
}

enum aead_cipher
session_send_cipher(const struct keypair *kp)
{
	return kp->send_aes ? AEAD_AES256_GCM : AEAD_CHACHA20_POLY1305;
}

const uint8_t *
session_send_key(const struct keypair *kp)
{
	return kp->send_aes ? kp->send_key_aes : kp->send_key;
}

const uint8_t *
session_recv_key(const struct keypair *kp, uint8_t type)
{
	if (type == FRAME_DATA_AES)
		return kp->has_aes ? kp->recv_key_aes : NULL;
	return type == FRAME_DATA ? kp->recv_key : NULL;
}

/* The cipher a frame's type (its first byte) names. */
static enum aead_cipher
session_cipher_of(const struct pkt *p)
{
	return p->buf[p->off] == FRAME_DATA_AES ? AEAD_AES256_GCM : AEAD_CHACHA20_POLY1305;
}

bool
session_seal_begin(struct keypair *kp, struct pkt *p, uint64_t *counter)
{
	struct frame_hdr h = { .type = kp->send_aes ? FRAME_DATA_AES : FRAME_DATA,
			       .receiver = kp->remote_index };
	uint8_t *hdr;

	if (kp->send_counter >= SESSION_REJECT_AFTER_MESSAGES || pkt_tailroom(p) < FRAME_TAG_LEN)
		return false;
	hdr = pkt_push(p, FRAME_HDR_LEN);
	if (!hdr)
		return false;
	h.counter = kp->send_counter++;
	frame_hdr_encode(hdr, &h);
	*counter = h.counter;
	return true;
}

bool
session_seal_finish(const uint8_t key[AEAD_KEY_LEN], uint64_t counter, struct pkt *p)
{
	uint8_t *hdr = pkt_data(p);

	if (!aead_seal(session_cipher_of(p), key, counter, hdr, FRAME_HDR_LEN, hdr + FRAME_HDR_LEN,
		       p->len - FRAME_HDR_LEN))
		return false;
	p->len += FRAME_TAG_LEN;
	return true;
}

bool
session_seal(struct keypair *kp, struct pkt *p)
{
	uint64_t counter;

	return session_seal_begin(kp, p, &counter) &&
	       session_seal_finish(session_send_key(kp), counter, p);
}

bool
session_open_decrypt(const uint8_t key[AEAD_KEY_LEN], uint64_t counter, struct pkt *p)
{
	uint8_t *hdr = pkt_data(p);

	return p->len >= FRAME_HDR_LEN &&
	       aead_open(session_cipher_of(p), key, counter, hdr, FRAME_HDR_LEN,
			 hdr + FRAME_HDR_LEN, p->len - FRAME_HDR_LEN);
}

enum session_open_result
session_open_accept(struct keypair *kp, struct pkt *p, uint64_t counter)
{
	/* Two frames with one counter may both pass the check in one batch: accept() decides. */
	if (!replay_accept(&kp->replay, counter))
		return SESSION_OPEN_REPLAY;
	pkt_pull(p, FRAME_HDR_LEN);
	p->len -= FRAME_TAG_LEN;
	return SESSION_OPEN_OK;
}

enum session_open_result
session_open(struct keypair *kp, struct pkt *p, uint64_t counter)
{
	const uint8_t *key = p->len ? session_recv_key(kp, pkt_data(p)[0]) : NULL;

	/* Cheap check first: a replayed frame costs no decryption. */
	if (!replay_check(&kp->replay, counter))
		return SESSION_OPEN_REPLAY;
	if (!key || !session_open_decrypt(key, counter, p))
		return SESSION_OPEN_AUTH;
	return session_open_accept(kp, p, counter);
}
