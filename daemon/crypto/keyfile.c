// SPDX-License-Identifier: MIT
/*
 * Key and PEM files for the certificate module: reading a small file whole, writing one
 * atomically (a private key 0600 and linked into place, so never readable by others, never half
 * written, and never replacing an existing key; anything else 0644 and renamed over the old),
 * and Ed25519 keys: made, written, and loaded back (private, or just the public half).
 * Buffers that held key material are wiped.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/cert_internal.h"

enum {
	KEY_DER_MAX = 256, /* an Ed25519 PKCS#8 key is ~83 bytes */
	CERT_PEM_MAX = CERT_DER_MAX * 2,
};

/* --- files ----------------------------------------------------------------------------- */

/* Reads a whole small file into buf (NUL terminated); returns its length or -errno. */
int
cert_file_read(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cert_fail(-errno, "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = cert_fail(-errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap - 1) {
			err = cert_fail(-EFBIG, "%s: file too large to be a key or certificate",
					path);
			break;
		}
	}
	close(fd);
	buf[len] = '\0';
	return err < 0 ? err : (int)len;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes data to path through a temporary file in the same directory (created 0600 by
 * mkstemp). A secret is linked into place, which fails if path exists: keys are never
 * overwritten. Anything else is made 0644 and renamed over path.
 */
static int
file_write_atomic(const char *path, const void *data, size_t len, bool secret)
{
	char tmp[PATH_MAX];
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return cert_fail(-ENAMETOOLONG, "%s: path too long", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return cert_fail(-errno, "%s: cannot create: %s", path, strerror(errno));
	err = write_all(fd, data, len);
	if (err == 0 && !secret && fchmod(fd, 0644) < 0)
		err = -errno;
	if (err == 0 && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err < 0) {
		cert_fail(err, "%s: cannot write: %s", path, strerror(-err));
		goto err_unlink;
	}
	if (secret ? link(tmp, path) < 0 : rename(tmp, path) < 0) {
		err = -errno;
		if (err == -EEXIST)
			cert_fail(err, "%s: already exists; refusing to overwrite a key", path);
		else
			cert_fail(err, "%s: %s", path, strerror(-err));
		goto err_unlink;
	}
	if (secret)
		unlink(tmp);
	return 0;

err_unlink:
	unlink(tmp);
	return err;
}

int
cert_pem_write(const char *path, const uint8_t *der, size_t len, int type, bool secret)
{
	uint8_t pem[CERT_PEM_MAX];
	int n, err;

	n = wc_DerToPem(der, (word32)len, pem, sizeof(pem), type);
	if (n <= 0)
		return cert_fail(-EIO, "%s: cannot encode PEM (wolfSSL error %d)", path, n);
	err = file_write_atomic(path, pem, (size_t)n, secret);
	crypto_wipe(pem, sizeof(pem));
	return err;
}

/* --- keys ------------------------------------------------------------------------------ */

static int
key_from_private_der(const uint8_t *der, int len, ed25519_key *key, const char *path)
{
	uint8_t pub[ED25519_PUB_KEY_SIZE];
	word32 idx = 0;

	if (wc_Ed25519PrivateKeyDecode(der, &idx, key, (word32)len) != 0)
		return cert_fail(-EBADMSG, "%s: not an Ed25519 private key", path);
	if (!key->pubKeySet) {
		/* RFC 8410 v1 keys (OpenSSL's) carry no public half: derive it. */
		if (wc_ed25519_make_public(key, pub, sizeof(pub)) != 0 ||
		    wc_ed25519_import_private_key(key->k, ED25519_KEY_SIZE, pub, sizeof(pub),
						  key) != 0)
			return cert_fail(-EBADMSG, "%s: cannot derive the public key", path);
	}
	return 0;
}

int
cert_key_load_private(const char *path, ed25519_key *key)
{
	char pem[CERT_FILE_MAX];
	uint8_t der[KEY_DER_MAX];
	int n, err;

	n = cert_file_read(path, pem, sizeof(pem));
	if (n < 0)
		return n;
	n = wc_KeyPemToDer((const uint8_t *)pem, n, der, sizeof(der), NULL);
	crypto_wipe(pem, sizeof(pem));
	if (n <= 0)
		return cert_fail(-EBADMSG, "%s: not a PEM private key", path);
	err = key_from_private_der(der, n, key, path);
	crypto_wipe(der, sizeof(der));
	return err;
}

/* Loads the public half from a PEM public key, or from a PEM private key file. */
int
cert_key_load_public(const char *path, ed25519_key *key)
{
	char pem[CERT_FILE_MAX];
	uint8_t der[KEY_DER_MAX];
	word32 idx = 0;
	int n;

	n = cert_file_read(path, pem, sizeof(pem));
	if (n < 0)
		return n;
	if (strstr(pem, "PRIVATE KEY-----") != NULL) {
		crypto_wipe(pem, sizeof(pem));
		return cert_key_load_private(path, key);
	}
	n = wc_PubKeyPemToDer((const uint8_t *)pem, n, der, sizeof(der));
	if (n <= 0)
		return cert_fail(-EBADMSG, "%s: not a PEM public key", path);
	if (wc_Ed25519PublicKeyDecode(der, &idx, key, (word32)n) != 0)
		return cert_fail(-EBADMSG, "%s: not an Ed25519 public key", path);
	return 0;
}

int
cert_key_write(const ed25519_key *ckey, const char *priv_path, const char *pub_path)
{
	ed25519_key *key = (ed25519_key *)ckey; /* wolfCrypt's encoders take non-const keys */
	uint8_t der[KEY_DER_MAX];
	int n, err;

	/*
	 * The RFC 8410 form without the public half (OpenSSL's): wolfSSL 5.5.4's variant with
	 * the public key is one that OpenSSL refuses. The public half is derived on load.
	 */
	n = wc_Ed25519PrivateKeyToDer(key, der, sizeof(der));
	if (n <= 0)
		return cert_fail(-EIO, "%s: cannot encode the key (wolfSSL error %d)", priv_path,
				 n);
	err = cert_pem_write(priv_path, der, (size_t)n, PKCS8_PRIVATEKEY_TYPE, true);
	crypto_wipe(der, sizeof(der));
	if (err < 0 || pub_path == NULL)
		return err;
	n = wc_Ed25519PublicKeyToDer(key, der, sizeof(der), 1);
	if (n <= 0)
		return cert_fail(-EIO, "%s: cannot encode the public key (wolfSSL error %d)",
				 pub_path, n);
	return cert_pem_write(pub_path, der, (size_t)n, PUBLICKEY_TYPE, false);
}

/* Makes a fresh key pair in an initialised key. */
int
cert_key_generate(ed25519_key *key, WC_RNG *rng)
{
	if (wc_ed25519_make_key(rng, ED25519_KEY_SIZE, key) != 0)
		return cert_fail(-EIO, "cannot generate an Ed25519 key");
	return 0;
}

int
cert_key_new(const char *priv_path, const char *pub_path)
{
	ed25519_key key;
	WC_RNG rng;
	int err;

	cert_lib_init();
	if (wc_InitRng(&rng) != 0)
		return cert_fail(-EIO, "cannot initialise the random generator");
	wc_ed25519_init(&key);
	err = cert_key_generate(&key, &rng);
	if (err == 0)
		err = cert_key_write(&key, priv_path, pub_path);
	wc_ed25519_free(&key);
	wc_FreeRng(&rng);
	return err;
}
