// SPDX-License-Identifier: MIT
/*
 * Lifecycle hooks (hooks/hooks.h), with real /bin/sh scripts in a temporary directory: the
 * environment given is the environment the hook sees (and nothing of ours besides PATH and
 * VERTEX_HOOK); a hook past its limit is killed with its process group while the loop runs on;
 * output is captured and bounded; a background child holding the pipe does not keep a run
 * alive; runs beyond max_running wait, beyond max_queued are dropped;
 * absent and non-executable hooks are skipped; the drain at shutdown waits for a hook and
 * kills one that would not end; the contact-request answer parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ev.h"
#include "hooks/hooks.h"

struct fix {
	char dir[64];
	struct ev_loop *loop;
	struct hooks *h;
	int ndone;
	struct hooks_result last;
	char out[8192];
	char peer[64]; /* VERTEX_PEER of the result's env, "-" if none */
};

static void
fix_script(struct fix *f, const char *name, const char *body, mode_t mode)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static void
fix_open(struct fix *f, unsigned timeout_ms, unsigned running, unsigned queued, size_t outmax)
{
	struct hooks_params p = { .dir = f->dir,
				  .timeout_ms = timeout_ms,
				  .max_running = running,
				  .max_queued = queued,
				  .output_max = outmax };

	assert_int_equal(hooks_new(&f->h, f->loop, &p), 0);
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vtx-hooks-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ev_loop_new(&f->loop), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	hooks_free(f->h);
	ev_loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
on_done(void *arg, const struct hooks_result *r)
{
	struct fix *f = arg;

	f->ndone++;
	f->last = *r;
	snprintf(f->out, sizeof(f->out), "%s", r->output);
	f->last.output = f->out;
	f->last.env = NULL; /* borrowed for the call only */
	snprintf(f->peer, sizeof(f->peer), "%s",
		 hooks_env_get(r->env, "VERTEX_PEER") ? hooks_env_get(r->env, "VERTEX_PEER") : "-");
	assert_null(hooks_env_get(r->env, "VERTEX_PEE"));
}

/* Steps the loop until n runs ended; at most max_ms of real time. */
static void
wait_done(struct fix *f, int n, unsigned max_ms)
{
	uint64_t until = ev_clock_ms() + max_ms;

	while (f->ndone < n && ev_clock_ms() < until)
		ev_run_once(f->loop, 50);
	assert_int_equal(f->ndone, n);
}

static void
read_file(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
test_hooks_run_env(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;
	char got[4096];

	fix_script(f, "peer-up", "env | sort > env.out; echo hello; echo oops >&2; exit 3", 0755);
	fix_open(f, 5000, 0, 0, 0);
	hooks_env_init(&env);
	hooks_env_add(&env, "VERTEX_PEER", "%s", "bob@b.example.com");
	hooks_env_add(&env, "VERTEX_PEER_ADDR4", "100.64.0.%d", 2);
	assert_int_equal(hooks_run(f->h, HOOKS_PEER_UP, &env, on_done, f), 0);
	assert_int_equal(f->ndone, 0); /* never from inside hooks_run */
	wait_done(f, 1, 5000);
	assert_int_equal(f->last.event, HOOKS_PEER_UP);
	assert_int_equal(f->last.exit_code, 3);
	assert_false(f->last.timed_out);
	assert_string_equal(f->out, "hello\noops\n");
	read_file(f->dir, "env.out", got, sizeof(got));
	/* Exactly these (sh adds PWD, SHLVL and _ itself): nothing of the daemon's environment. */
	assert_non_null(strstr(got, "VERTEX_PEER=bob@b.example.com\n"));
	assert_non_null(strstr(got, "VERTEX_PEER_ADDR4=100.64.0.2\n"));
	assert_non_null(strstr(got, "VERTEX_HOOK=peer-up\n"));
	assert_non_null(strstr(got, "PATH=/usr/local/sbin:"));
	assert_null(strstr(got, "HOME="));
	assert_int_equal(hooks_stats(f->h)->failed, 1);
	assert_string_equal(f->peer, "bob@b.example.com"); /* the result's env, in done */
	assert_int_equal(hooks_busy(f->h), 0);
}

/* Running, not gone nor a zombie (whoever reaps orphans here may be slow or absent). */
static bool
is_alive(int pid)
{
	char path[64], buf[256], *s;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(fp = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	s = strrchr(buf, ')');
	return s && s[1] == ' ' && s[2] != 'Z' && s[2] != 'X';
}

static void
test_hooks_run_timeout_kills_group(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;
	char pid[32];
	uint64_t t0;

	/* A child of the hook that would outlive it, and the hook itself: both must go. */
	fix_script(f, "path-change", "sleep 1000 & echo $! > child.pid; echo started; sleep 1000",
		   0755);
	fix_open(f, 300, 0, 0, 0);
	hooks_env_init(&env);
	t0 = ev_clock_ms();
	assert_int_equal(hooks_run(f->h, HOOKS_PATH_CHANGE, &env, on_done, f), 0);
	wait_done(f, 1, 5000);
	/* The limit counts from the loop's time of the turn that started it, a little before t0. */
	assert_true(ev_clock_ms() - t0 >= 250);
	assert_true(ev_clock_ms() - t0 < 3000);
	assert_true(f->last.timed_out);
	assert_int_equal(f->last.signo, SIGKILL);
	assert_string_equal(f->out, "started\n");
	read_file(f->dir, "child.pid", pid, sizeof(pid));
	for (int i = 0; i < 100 && is_alive(atoi(pid)); i++)
		usleep(10000); /* bounded */
	assert_false(is_alive(atoi(pid)));
	assert_int_equal(hooks_stats(f->h)->timed_out, 1);
}

static void
test_hooks_run_background_child_holding_pipe(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;
	char pid[32];
	uint64_t t0;

	/* The child keeps the pipe open: the run still ends when the hook itself exits. */
	fix_script(f, "peer-up", "sleep 1000 & echo $! > bg.pid; echo done", 0755);
	fix_open(f, 5000, 0, 0, 0);
	hooks_env_init(&env);
	t0 = ev_clock_ms();
	assert_int_equal(hooks_run(f->h, HOOKS_PEER_UP, &env, on_done, f), 0);
	wait_done(f, 1, 5000);
	assert_true(ev_clock_ms() - t0 < 2000);
	assert_false(f->last.timed_out);
	assert_int_equal(f->last.exit_code, 0);
	assert_string_equal(f->out, "done\n");
	read_file(f->dir, "bg.pid", pid, sizeof(pid));
	assert_true(is_alive(atoi(pid))); /* left alone: a hook may start a daemon on purpose */
	kill(atoi(pid), SIGKILL);
}

static void
test_hooks_run_output_bounded(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;

	/* 100000 bytes of output, 100 kept: the hook is never blocked on a full pipe. */
	fix_script(f, "vertex-up", "head -c 100000 /dev/zero | tr '\\0' x", 0755);
	fix_open(f, 5000, 0, 0, 100);
	hooks_env_init(&env);
	assert_int_equal(hooks_run(f->h, HOOKS_VERTEX_UP, &env, on_done, f), 0);
	wait_done(f, 1, 5000);
	assert_int_equal(f->last.exit_code, 0);
	assert_int_equal(f->last.len, 100);
	assert_int_equal(f->last.truncated, 100000 - 100);
	assert_int_equal(strspn(f->out, "x"), 100);
}

static void
test_hooks_run_queue(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;
	char got[256];

	/* One at a time: each appends its number; the order shows the FIFO, none overlap. */
	fix_script(f, "peer-down", "echo start $N >> order; sleep 0.1; echo end $N >> order", 0755);
	fix_open(f, 5000, 1, 2, 0);
	for (int i = 0; i < 4; i++) {
		hooks_env_init(&env);
		hooks_env_add(&env, "N", "%d", i);
		assert_int_equal(hooks_run(f->h, HOOKS_PEER_DOWN, &env, on_done, f),
				 i < 3 ? 0 : -ENOBUFS);
	}
	assert_int_equal(hooks_busy(f->h), 3);
	assert_int_equal(hooks_stats(f->h)->dropped, 1);
	wait_done(f, 3, 5000);
	read_file(f->dir, "order", got, sizeof(got));
	assert_string_equal(got, "start 0\nend 0\nstart 1\nend 1\nstart 2\nend 2\n");
}

static void
test_hooks_run_absent_or_not_executable(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;

	fix_script(f, "peer-up", "exit 0", 0644);
	fix_open(f, 5000, 0, 0, 0);
	hooks_env_init(&env);
	assert_false(hooks_has(f->h, HOOKS_PEER_UP));
	assert_false(hooks_has(f->h, HOOKS_VERTEX_DOWN));
	assert_int_equal(hooks_run(f->h, HOOKS_PEER_UP, &env, on_done, f), -ENOENT);
	assert_int_equal(hooks_run(f->h, HOOKS_VERTEX_DOWN, &env, on_done, f), -ENOENT);
	/* Added later: found at the next run. */
	fix_script(f, "vertex-down", "exit 0", 0755);
	assert_int_equal(hooks_run(f->h, HOOKS_VERTEX_DOWN, &env, on_done, f), 0);
	wait_done(f, 1, 5000);
	assert_int_equal(f->last.exit_code, 0);
}

static void
test_hooks_run_no_dir(void **state)
{
	struct fix *f = *state;
	struct hooks_params p = { .dir = "" };
	struct hooks_env env;

	assert_int_equal(hooks_new(&f->h, f->loop, &p), 0);
	hooks_env_init(&env);
	assert_int_equal(hooks_run(f->h, HOOKS_VERTEX_UP, &env, on_done, f), -ENOENT);
	p.dir = "relative/dir";
	{
		struct hooks *h2;

		assert_int_equal(hooks_new(&h2, f->loop, &p), -EINVAL);
	}
}

static void
test_hooks_drain_waits_then_kills(void **state)
{
	struct fix *f = *state;
	struct hooks_env env;
	uint64_t t0;

	fix_script(f, "vertex-down", "sleep 0.2; echo bye", 0755);
	fix_script(f, "peer-down", "sleep 1000", 0755);
	fix_open(f, 10000, 0, 0, 0);
	hooks_env_init(&env);
	assert_int_equal(hooks_run(f->h, HOOKS_VERTEX_DOWN, &env, on_done, f), 0);
	t0 = ev_clock_ms();
	hooks_drain(f->h, 5000); /* the loop does not run: drain does it all */
	assert_int_equal(f->ndone, 1);
	assert_string_equal(f->out, "bye\n");
	assert_true(ev_clock_ms() - t0 < 3000);

	assert_int_equal(hooks_run(f->h, HOOKS_PEER_DOWN, &env, on_done, f), 0);
	t0 = ev_clock_ms();
	hooks_drain(f->h, 300);
	assert_int_equal(f->ndone, 2);
	assert_true(f->last.timed_out);
	assert_true(ev_clock_ms() - t0 < 3000);
	assert_int_equal(hooks_busy(f->h), 0);
}

static void
test_hooks_env_add_overflow(void **state)
{
	struct hooks_env env;
	char big[HOOKS_VAR_MAX + 10];

	(void)state;
	hooks_env_init(&env);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hooks_env_add(&env, "BIG", "%s", big);
	assert_true(env.overflow);
	assert_int_equal(env.n, 0);
	hooks_env_init(&env);
	for (int i = 0; i < HOOKS_ENV_MAX; i++)
		hooks_env_add(&env, "X", "%d", i);
	assert_int_equal(env.n, HOOKS_ENV_MAX - 2);
	assert_true(env.overflow);
}

static void
test_hooks_parse_answer_cases(void **state)
{
	(void)state;
	assert_int_equal(hooks_parse_answer("approve\n", 8), HOOKS_ANSWER_APPROVE);
	assert_int_equal(hooks_parse_answer("approve", 7), HOOKS_ANSWER_APPROVE);
	assert_int_equal(hooks_parse_answer("  deny \r\nmore\n", 14), HOOKS_ANSWER_DENY);
	assert_int_equal(hooks_parse_answer("deny", 4), HOOKS_ANSWER_DENY);
	assert_int_equal(hooks_parse_answer("", 0), HOOKS_ANSWER_NONE);
	assert_int_equal(hooks_parse_answer("\napprove\n", 9), HOOKS_ANSWER_NONE);
	assert_int_equal(hooks_parse_answer("approved\n", 9), HOOKS_ANSWER_NONE);
	assert_int_equal(hooks_parse_answer("Approve\n", 8), HOOKS_ANSWER_NONE);
	assert_int_equal(hooks_parse_answer("approve", 5), HOOKS_ANSWER_NONE);
	assert_string_equal(hooks_event_name(HOOKS_CONTACT_REQUEST), "contact-request");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hooks_run_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_run_timeout_kills_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hooks_run_background_child_holding_pipe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hooks_run_output_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_run_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_run_absent_or_not_executable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hooks_run_no_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_drain_waits_then_kills, setup, teardown),
		cmocka_unit_test(test_hooks_env_add_overflow),
		cmocka_unit_test(test_hooks_parse_answer_cases),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
