// SPDX-License-Identifier: MIT
/*
 * delayline IN OUT CTLFILE: a delay line for the integration suite, where the kernel has no
 * netem. It creates two TUN devices: what the router's policy routing sends into IN comes out
 * of OUT (the kernel then routes it on by its destination) DELAY_MS later, give or take up to
 * JITTER_MS at random, both read from CTLFILE ("DELAY_MS JITTER_MS") at start and again on
 * SIGHUP. Packets leave in the order they came (a late one holds back the next, as a queue
 * does); at most DL_MAX wait at once, more are dropped (counted, printed at exit). SIGTERM
 * ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

enum { DL_MAX = 4096, DL_MTU = 2048 };

static struct {
	uint64_t due_us;
	uint16_t len;
	uint8_t buf[DL_MTU];
} q[DL_MAX];
static size_t head, count;
static volatile sig_atomic_t reload = 1, stop;
static unsigned delay_ms, jitter_ms;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
tun(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
load(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned d, j;

	reload = 0;
	if (!f)
		return;
	if (fscanf(f, "%u %u", &d, &j) == 2 && d <= 10000 && j <= d) {
		delay_ms = d;
		jitter_ms = j;
		fprintf(stderr, "delayline: delay %u ms, jitter %u ms\n", d, j);
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t last_due = 0, drops = 0, passed = 0;
	int in, out;

	if (argc != 4) {
		fprintf(stderr, "usage: delayline IN-TUN OUT-TUN CTLFILE\n");
		return 2;
	}
	if ((in = tun(argv[1])) < 0 || (out = tun(argv[2])) < 0) {
		perror("delayline: tun");
		return 1;
	}
	fcntl(in, F_SETFL, O_NONBLOCK);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	srandom((unsigned)now_us());
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		uint64_t t = now_us();
		int wait = -1;

		if (reload)
			load(argv[3]);
		while (count && q[head].due_us <= t) {
			if (write(out, q[head].buf, q[head].len) > 0)
				passed++;
			head = (head + 1) % DL_MAX;
			count--;
		}
		if (count)
			wait = (int)((q[head].due_us - t + 999) / 1000);
		if (poll(&p, 1, wait) <= 0)
			continue;
		for (int n = 0; n < 64; n++) {
			size_t slot = (head + count) % DL_MAX;
			uint8_t scratch[DL_MTU];
			uint8_t *buf = count < DL_MAX ? q[slot].buf : scratch;
			ssize_t len = read(in, buf, DL_MTU);
			int64_t d = (int64_t)delay_ms * 1000;

			if (len <= 0)
				break;
			if (count == DL_MAX) {
				drops++;
				continue;
			}
			if (jitter_ms)
				d += (int64_t)(random() % (2 * jitter_ms * 1000 + 1)) -
				     (int64_t)jitter_ms * 1000;
			q[slot].len = (uint16_t)len;
			q[slot].due_us = now_us() + (uint64_t)(d > 0 ? d : 0);
			if (q[slot].due_us < last_due)
				q[slot].due_us = last_due; /* in order */
			last_due = q[slot].due_us;
			count++;
		}
	}
	fprintf(stderr, "delayline: %llu passed, %llu dropped (queue full)\n",
		(unsigned long long)passed, (unsigned long long)drops);
	return 0;
}
