/* SPDX-License-Identifier: MIT */
/*
 * Lifecycle hooks (docs/hooks.md): the executables vertex-up, vertex-down, peer-up, peer-down,
 * path-change and contact-request in one directory, run when their event happens, each with
 * the environment the caller builds (struct hooks_env) and nothing else of ours.
 *
 * A hook runs in a process of its own (fork + execve, never a thread), in a process group of
 * its own, stdin /dev/null, stdout and stderr into one pipe read on the event loop. Its exit is
 * noticed through a pidfd on the loop, so nothing ever waits: a hook that fails, hangs or
 * prints without end costs the daemon one pipe, one pidfd and a bounded buffer. Limits:
 *   - a time limit per hook (hooks_params.timeout_ms); when it passes the whole process group
 *     is killed (SIGKILL) and the run is logged as timed out;
 *   - output kept up to output_max bytes (the rest read and thrown away, counted);
 *   - at most max_running at once; the rest wait in a FIFO of max_queued, and a run beyond
 *     that is dropped and counted (stats.dropped).
 * When a run ends, its exit status and output are logged, then the caller's done callback (if
 * any) gets the result: contact-request's answer is read from it by hooks_parse_answer.
 *
 * A hook file that is absent or not executable is skipped quietly (hooks_new logs once which
 * hooks are there); it is looked up again at every run, so one added later is used.
 */
#ifndef VERTEX_HOOKS_H
#define VERTEX_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct hooks;

enum hooks_event {
	HOOKS_VERTEX_UP,
	HOOKS_VERTEX_DOWN,
	HOOKS_PEER_UP,
	HOOKS_PEER_DOWN,
	HOOKS_PATH_CHANGE,
	HOOKS_CONTACT_REQUEST,
	HOOKS_EVENT_COUNT,
};

enum {
	HOOKS_DEFAULT_TIMEOUT_SEC = 10,
	HOOKS_MAX_TIMEOUT_SEC = 3600,
	HOOKS_DEFAULT_RUNNING = 4,   /* hooks running at once */
	HOOKS_DEFAULT_QUEUED = 64,   /* waiting for a place; beyond, dropped and counted */
	HOOKS_DEFAULT_OUTPUT = 4096, /* bytes of stdout+stderr kept per run */
	HOOKS_ENV_MAX = 24,          /* variables per run, PATH and VERTEX_HOOK included */
	HOOKS_VAR_MAX = 512,         /* bytes of one NAME=value with its NUL */
};

struct hooks_params {
	const char *dir;     /* absolute; "" or NULL: no hooks at all */
	unsigned timeout_ms; /* 0: HOOKS_DEFAULT_TIMEOUT_SEC */
	unsigned max_running, max_queued;
	size_t output_max;
};

/* The environment of one run, built by the caller (plain data; copied by hooks_run). */
struct hooks_env {
	size_t n;
	bool overflow; /* a variable did not fit: it was left out (and logged by hooks_run) */
	char vars[HOOKS_ENV_MAX][HOOKS_VAR_MAX];
};

struct hooks_result {
	enum hooks_event event;
	bool timed_out;     /* killed at its limit */
	int exit_code;      /* 0..255 when it exited, -1 when a signal ended it */
	int signo;          /* the signal that ended it, or 0 */
	const char *output; /* stdout and stderr, interleaved, NUL-terminated; borrowed */
	size_t len;
	size_t truncated;            /* bytes beyond output_max, not kept */
	uint64_t ms;                 /* how long it ran */
	const struct hooks_env *env; /* what it ran with; borrowed */
};

struct hooks_stats {
	uint64_t started, ok, failed, timed_out, dropped, spawn_failed;
};

enum hooks_answer { HOOKS_ANSWER_NONE, HOOKS_ANSWER_APPROVE, HOOKS_ANSWER_DENY };

typedef void hooks_done_fn(void *arg, const struct hooks_result *r);

/* Constructor: *out owned by the caller, hooks_free() releases. 0, -EINVAL, -ENOMEM. */
int hooks_new(struct hooks **out, struct ev_loop *loop, const struct hooks_params *params);
/* Kills the process group of every hook still running, reaps them, frees. NULL ignored. */
void hooks_free(struct hooks *h);

/* "vertex-up", ... the file name of a hook. */
const char *hooks_event_name(enum hooks_event ev);
/* True when the hook's file is there and executable now. */
bool hooks_has(const struct hooks *h, enum hooks_event ev);

/* Empties env. */
void hooks_env_init(struct hooks_env *env);
/* Adds NAME=value (value printf-formatted); a variable that does not fit sets env->overflow. */
void hooks_env_add(struct hooks_env *env, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value of name in env, or NULL. */
const char *hooks_env_get(const struct hooks_env *env, const char *name);

/*
 * Runs the hook for ev with env (copied), now or when a place frees; done(arg, result) is
 * called when it ended (never from inside hooks_run; not for a run that was dropped or never
 * started). 0: started or queued; -ENOENT: no such hook (quietly nothing); -ENOBUFS: the queue
 * is full (counted as dropped, logged); -ENOMEM.
 */
int hooks_run(struct hooks *h, enum hooks_event ev, const struct hooks_env *env,
	      hooks_done_fn *done, void *arg);
/*
 * Waits, without the event loop, for the hooks running and queued to end, starting the queued
 * ones, for at most max_ms; then kills what still runs. For shutdown (vertex-down): the loop
 * has stopped by then. Results are logged and their done callbacks called as usual.
 */
void hooks_drain(struct hooks *h, unsigned max_ms);
/* Hooks running and waiting now. */
size_t hooks_busy(const struct hooks *h);
const struct hooks_stats *hooks_stats(const struct hooks *h);

/*
 * contact-request's answer: the first line of its output is exactly "approve" or "deny"
 * (blanks and a CR around it ignored). Anything else, or nothing, is HOOKS_ANSWER_NONE.
 */
enum hooks_answer hooks_parse_answer(const char *out, size_t len);

#endif
