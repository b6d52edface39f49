// SPDX-License-Identifier: MIT
/*
 * revoke_bulk DB USER COUNT
 *
 * Makes a domain's revocation list long, the way a large domain's would become: adds USER to
 * the server's account store DB (if it is not there), records COUNT certificates for it with
 * random fingerprints, valid for a day, and revokes the account, so the next list the running
 * server publishes carries COUNT more entries. A test tool: a real server issues certificates
 * only through enrolment, at most SERVER_CERTS_PER_ACCOUNT unexpired per account.
 * Prints the number of certificates revoked; exit 0, 1 on a store error, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "crypto/aead.h"
#include "server/accounts.h"

int
main(int argc, char **argv)
{
	struct accounts *acc;
	long count = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
	int64_t now = time(NULL);
	int err, n;

	if (argc != 4 || count <= 0 || count > 100000) {
		fprintf(stderr, "usage: revoke_bulk DB USER COUNT (1..100000)\n");
		return 2;
	}
	log_init("revoke_bulk");
	if (accounts_open(&acc, argv[1]))
		return 1;
	err = accounts_user_add(acc, argv[2], NULL, now);
	if (err && err != -EEXIST)
		goto fail;
	for (long i = 0; i < count; i++) {
		uint8_t fpr[32];

		crypto_random(fpr, sizeof(fpr));
		if ((err = accounts_cert_record(acc, argv[2], fpr, now - 60, now + 86400)))
			goto fail;
	}
	n = accounts_revoke_user(acc, argv[2], now);
	if (n < 0) {
		err = n;
		goto fail;
	}
	printf("%d\n", n);
	accounts_close(acc);
	return 0;
fail:
	fprintf(stderr, "revoke_bulk: %s\n", strerror(-err));
	accounts_close(acc);
	return 1;
}
