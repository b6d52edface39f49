// SPDX-License-Identifier: MIT
/*
 * Lifecycle hooks (hooks.h): each run is a job, queued (FIFO) or running. A running job has a
 * child in its own process group, a pidfd watched for its exit, the read end of its output
 * pipe watched for bytes, and a timer for its limit.
 *
 * Job states and what moves them:
 *   QUEUED   waiting for one of max_running places; leaves when a running job ends
 *   RUNNING  forked; ends when the pidfd says the child exited (reaped at once, the output
 *            still in the pipe read then), or when the timer fires (the group killed with
 *            SIGKILL; the pidfd then reports the exit)
 * The output pipe is not waited for: a hook may leave a background child holding it, and
 * that must not keep the job alive. What was read by the exit is what is logged.
 *
 * Why a pidfd rather than SIGCHLD through the loop's signalfd: a pidfd names one child, so
 * there is no reaping of children that are not ours (the agent has none today, but a signalfd
 * SIGCHLD would swallow any), no lost coalesced signals to make up for, and the drain at
 * shutdown can poll the same descriptors without the loop. It needs Linux 5.3.
 */
#include "hooks/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"

#define HOOKS_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum {
	HOOKS_READ_PER_TURN = 16, /* reads of the output pipe per readiness */
	HOOKS_LOG_LINES = 20,     /* output lines logged per run */
};

struct hooks_job {
	struct hooks *h;
	enum hooks_event event;
	struct hooks_env env;
	hooks_done_fn *done;
	void *arg;

	pid_t pid;
	int pidfd, outfd;
	struct ev_io pid_io, out_io;
	struct ev_timer timer;
	uint64_t started_ms, deadline_ms;
	bool timed_out;
	char *out; /* output_max + 1 */
	size_t len, truncated;

	struct hooks_job *next;
};

struct hooks {
	struct ev_loop *loop;
	char dir[PATH_MAX];
	unsigned timeout_ms, max_running, max_queued;
	size_t output_max;
	struct hooks_job *running; /* unordered */
	struct hooks_job *queue_head, *queue_tail;
	size_t nrunning, nqueued;
	struct hooks_stats stats;
};

static const char *const hooks_names[HOOKS_EVENT_COUNT] = {
	[HOOKS_VERTEX_UP] = "vertex-up",     [HOOKS_VERTEX_DOWN] = "vertex-down",
	[HOOKS_PEER_UP] = "peer-up",         [HOOKS_PEER_DOWN] = "peer-down",
	[HOOKS_PATH_CHANGE] = "path-change", [HOOKS_CONTACT_REQUEST] = "contact-request",
};

static void hooks_start_queued(struct hooks *h);

const char *
hooks_event_name(enum hooks_event ev)
{
	return ev < HOOKS_EVENT_COUNT ? hooks_names[ev] : "?";
}

static int
hooks_file(const struct hooks *h, enum hooks_event ev, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", h->dir, hooks_event_name(ev));

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool
hooks_has(const struct hooks *h, enum hooks_event ev)
{
	char path[PATH_MAX];

	if (!h->dir[0] || hooks_file(h, ev, path, sizeof(path)))
		return false;
	return access(path, X_OK) == 0;
}

void
hooks_env_init(struct hooks_env *env)
{
	env->n = 0;
	env->overflow = false;
}

void
hooks_env_add(struct hooks_env *env, const char *name, const char *fmt, ...)
{
	char *dst;
	va_list ap;
	int n, m;

	if (env->n == HOOKS_ENV_MAX - 2) { /* PATH and VERTEX_HOOK are added by hooks_run */
		env->overflow = true;
		return;
	}
	dst = env->vars[env->n];
	n = snprintf(dst, HOOKS_VAR_MAX, "%s=", name);
	if (n < 0 || n >= HOOKS_VAR_MAX) {
		env->overflow = true;
		return;
	}
	va_start(ap, fmt);
	m = vsnprintf(dst + n, HOOKS_VAR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || m >= HOOKS_VAR_MAX - n) {
		env->overflow = true;
		return;
	}
	env->n++;
}

const char *
hooks_env_get(const struct hooks_env *env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->vars[i], name, n) && env->vars[i][n] == '=')
			return env->vars[i] + n + 1;
	return NULL;
}

/* Logs which hooks are there, once: the quiet skipping of the others is then no surprise. */
static void
hooks_log_present(const struct hooks *h)
{
	char list[128] = "";
	size_t off = 0;

	for (int ev = 0; ev < HOOKS_EVENT_COUNT; ev++) {
		if (hooks_has(h, ev))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? " " : "", hooks_event_name(ev));
	}
	log_info("hooks in %s: %s (absent or not executable ones are skipped; limit %u ms)", h->dir,
		 off ? list : "none", h->timeout_ms);
}

int
hooks_new(struct hooks **out, struct ev_loop *loop, const struct hooks_params *params)
{
	struct hooks *h;

	if (params->dir && params->dir[0] &&
	    (params->dir[0] != '/' || strlen(params->dir) >= sizeof(h->dir)))
		return -EINVAL;
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	h->loop = loop;
	snprintf(h->dir, sizeof(h->dir), "%s", params->dir ? params->dir : "");
	h->timeout_ms = params->timeout_ms ? params->timeout_ms : HOOKS_DEFAULT_TIMEOUT_SEC * 1000;
	h->max_running = params->max_running ? params->max_running : HOOKS_DEFAULT_RUNNING;
	h->max_queued = params->max_queued ? params->max_queued : HOOKS_DEFAULT_QUEUED;
	h->output_max = params->output_max ? params->output_max : HOOKS_DEFAULT_OUTPUT;
	if (h->dir[0])
		hooks_log_present(h);
	*out = h;
	return 0;
}

/* Frees a job that is no longer running (its descriptors closed) or never ran. */
static void
hooks_job_free(struct hooks_job *j)
{
	if (!j)
		return;
	free(j->out);
	free(j);
}

/* Reads what the pipe has now, keeping up to output_max bytes. */
static void
hooks_job_read(struct hooks_job *j)
{
	char buf[4096];

	for (int i = 0; j->outfd >= 0 && i < HOOKS_READ_PER_TURN; i++) {
		ssize_t n = read(j->outfd, buf, sizeof(buf));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* end of output (or an error: the same for us) */
			ev_io_stop(j->h->loop, &j->out_io);
			close(j->outfd);
			j->outfd = -1;
			return;
		}
		keep = j->h->output_max - j->len;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(j->out + j->len, buf, keep);
		j->len += keep;
		j->truncated += (size_t)n - keep;
	}
}

static void
hooks_on_output(struct ev_io *io, uint32_t revents)
{
	hooks_job_read(container_of(io, struct hooks_job, out_io));
}

static void
hooks_log_result(const struct hooks_job *j, const struct hooks_result *r)
{
	const char *name = hooks_event_name(j->event);
	const char *s = j->out, *end = j->out + j->len;

	if (r->timed_out)
		log_warnx("hook %s: killed after %llu ms (limit %u ms, or shutting down)", name,
			  (unsigned long long)r->ms, j->h->timeout_ms);
	else if (r->signo)
		log_warnx("hook %s: ended by signal %d after %llu ms", name, r->signo,
			  (unsigned long long)r->ms);
	else if (r->exit_code)
		log_warnx("hook %s: exit status %d after %llu ms", name, r->exit_code,
			  (unsigned long long)r->ms);
	else
		log_info("hook %s: exit status 0 after %llu ms", name, (unsigned long long)r->ms);
	for (int i = 0; s < end && i < HOOKS_LOG_LINES; i++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		int n = (int)((nl ? nl : end) - s);

		log_info("hook %s: | %.*s", name, n, s);
		s = nl ? nl + 1 : end;
	}
	if (s < end || r->truncated)
		log_info("hook %s: | ... (%zu more bytes not logged, %zu not kept)", name,
			 (size_t)(end - s), r->truncated);
}

/* The child was reaped with status: the job ends (logged, its callback called, freed). */
static void
hooks_job_end(struct hooks_job *j, const siginfo_t *info)
{
	struct hooks *h = j->h;
	struct hooks_result r = {
		.event = j->event,
		.timed_out = j->timed_out,
		.exit_code = info->si_code == CLD_EXITED ? info->si_status : -1,
		.signo = info->si_code == CLD_EXITED ? 0 : info->si_status,
		.ms = ev_clock_ms() - j->started_ms,
		.env = &j->env,
	};
	struct hooks_job **pp;

	hooks_job_read(j); /* what it wrote before exiting, as far as it is there */
	if (j->outfd >= 0) {
		ev_io_stop(h->loop, &j->out_io);
		close(j->outfd);
	}
	ev_io_stop(h->loop, &j->pid_io);
	close(j->pidfd);
	ev_timer_stop(h->loop, &j->timer);
	for (pp = &h->running; *pp != j; pp = &(*pp)->next)
		;
	*pp = j->next;
	h->nrunning--;
	j->out[j->len] = '\0';
	r.output = j->out;
	r.len = j->len;
	r.truncated = j->truncated;
	if (r.timed_out)
		h->stats.timed_out++;
	else if (r.exit_code == 0)
		h->stats.ok++;
	else
		h->stats.failed++;
	hooks_log_result(j, &r);
	if (j->done)
		j->done(j->arg, &r);
	hooks_job_free(j);
	hooks_start_queued(h);
}

/* The pidfd is readable: the child has exited (not reaped yet). */
static void
hooks_job_reap(struct hooks_job *j)
{
	siginfo_t info = { 0 };

	if (waitid(P_PID, (id_t)j->pid, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
		return; /* spurious; the pidfd stays readable until it is reaped */
	hooks_job_end(j, &info);
}

static void
hooks_on_exit(struct ev_io *io, uint32_t revents)
{
	hooks_job_reap(container_of(io, struct hooks_job, pid_io));
}

static void
hooks_job_kill(struct hooks_job *j)
{
	j->timed_out = true;
	kill(-j->pid, SIGKILL); /* the group: what the hook started goes too */
	kill(j->pid, SIGKILL);  /* in case it left its group */
}

static void
hooks_on_timeout(struct ev_timer *t)
{
	hooks_job_kill(container_of(t, struct hooks_job, timer));
}

/* In the child, between fork and exec: a clean process. Only async-signal-safe calls. */
static void __attribute__((noreturn))
hooks_child(const char *dir, const char *path, char **envp, int wfd)
{
	char *argv[] = { (char *)path, NULL };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the loop's signalfd blocked some */
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL); /* SIGPIPE was ignored: exec would keep that */
	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0)
		_exit(126);
	if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	if (chdir(dir) < 0)
		_exit(126);
	execve(path, argv, envp);
	_exit(127);
}

/* Builds envp for j in buf (pointers into j->env and the fixed variables). */
static void
hooks_envp(struct hooks_job *j, char *self, size_t selflen, char **envp)
{
	size_t n = 0;

	snprintf(self, selflen, "VERTEX_HOOK=%s", hooks_event_name(j->event));
	envp[n++] = (char *)HOOKS_PATH;
	envp[n++] = self;
	for (size_t i = 0; i < j->env.n; i++)
		envp[n++] = j->env.vars[i];
	envp[n] = NULL;
}

/*
 * How far the loop's time of this turn (what timers count from) lags behind started_ms (the
 * clock when the hook started): added to the limit, so a hook gets all of it and its "killed
 * after" is never under the limit. Bounded, for a loop whose clock is a test's.
 */
static uint64_t
hooks_lag_ms(const struct hooks *h, const struct hooks_job *j)
{
	uint64_t now = ev_now_ms(h->loop);

	return j->started_ms > now && j->started_ms - now < 1000 ? j->started_ms - now : 0;
}

static int
hooks_spawn(struct hooks_job *j)
{
	struct hooks *h = j->h;
	char path[PATH_MAX], self[64], *envp[HOOKS_ENV_MAX + 1];
	int p[2], err;

	if ((err = hooks_file(h, j->event, path, sizeof(path))))
		return err;
	if (!(j->out = malloc(h->output_max + 1)))
		return -ENOMEM;
	hooks_envp(j, self, sizeof(self), envp);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	j->started_ms = ev_clock_ms();
	j->pid = fork();
	if (j->pid == 0)
		hooks_child(h->dir, path, envp, p[1]);
	err = -errno;
	close(p[1]);
	if (j->pid < 0) {
		close(p[0]);
		return err;
	}
	setpgid(j->pid, j->pid); /* also here: no window where a kill of the group misses it */
	j->outfd = p[0];
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (j->pidfd < 0) {
		err = -errno;
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(p[0]);
		return err;
	}
	fcntl(j->outfd, F_SETFL, O_NONBLOCK);
	fcntl(j->pidfd, F_SETFD, FD_CLOEXEC);
	if ((err = ev_io_start(h->loop, &j->out_io, j->outfd, EV_READ, hooks_on_output)) ||
	    (err = ev_io_start(h->loop, &j->pid_io, j->pidfd, EV_READ, hooks_on_exit)) ||
	    (err = ev_timer_start(h->loop, &j->timer, h->timeout_ms + hooks_lag_ms(h, j),
				  hooks_on_timeout))) {
		ev_io_stop(h->loop, &j->out_io);
		ev_io_stop(h->loop, &j->pid_io);
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(j->pidfd);
		close(p[0]);
		return err;
	}
	j->deadline_ms = j->started_ms + h->timeout_ms;
	return 0;
}

/* Starts j now: running, or counted as failed to start and freed. */
static void
hooks_job_start(struct hooks_job *j)
{
	struct hooks *h = j->h;
	int err = hooks_spawn(j);

	if (err) {
		h->stats.spawn_failed++;
		log_warnx("hook %s: cannot start: %s", hooks_event_name(j->event), strerror(-err));
		hooks_job_free(j);
		return;
	}
	h->stats.started++;
	j->next = h->running;
	h->running = j;
	h->nrunning++;
}

static void
hooks_start_queued(struct hooks *h)
{
	while (h->nrunning < h->max_running && h->queue_head) {
		struct hooks_job *j = h->queue_head;

		h->queue_head = j->next;
		if (!h->queue_head)
			h->queue_tail = NULL;
		h->nqueued--;
		j->next = NULL;
		hooks_job_start(j);
	}
}

int
hooks_run(struct hooks *h, enum hooks_event ev, const struct hooks_env *env, hooks_done_fn *done,
	  void *arg)
{
	struct hooks_job *j;

	if (ev >= HOOKS_EVENT_COUNT || !hooks_has(h, ev))
		return -ENOENT;
	if (h->nrunning >= h->max_running && h->nqueued >= h->max_queued) {
		h->stats.dropped++;
		log_warnx("hook %s: not run: %u running and %u waiting already (%llu dropped)",
			  hooks_event_name(ev), h->max_running, h->max_queued,
			  (unsigned long long)h->stats.dropped);
		return -ENOBUFS;
	}
	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	if (env->overflow)
		log_warnx("hook %s: a variable did not fit and is left out", hooks_event_name(ev));
	j->h = h;
	j->event = ev;
	j->env = *env;
	j->done = done;
	j->arg = arg;
	j->pidfd = j->outfd = -1;
	if (h->queue_tail)
		h->queue_tail->next = j;
	else
		h->queue_head = j;
	h->queue_tail = j;
	h->nqueued++;
	hooks_start_queued(h);
	return 0;
}

size_t
hooks_busy(const struct hooks *h)
{
	return h->nrunning + h->nqueued;
}

const struct hooks_stats *
hooks_stats(const struct hooks *h)
{
	return &h->stats;
}

/* One poll() over the running jobs, until the next deadline or end: the loop is not running. */
static void
hooks_drain_once(struct hooks *h, uint64_t until)
{
	struct pollfd fds[2 * h->max_running];
	struct hooks_job *jobs[2 * h->max_running], *j, *next;
	uint64_t now = ev_clock_ms(), wake = until;
	nfds_t n = 0;

	for (j = h->running; j; j = j->next) {
		if (!j->timed_out && j->deadline_ms <= now)
			hooks_job_kill(j);
		if (!j->timed_out && j->deadline_ms < wake)
			wake = j->deadline_ms;
		fds[n] = (struct pollfd){ .fd = j->pidfd, .events = POLLIN };
		jobs[n++] = j;
		if (j->outfd >= 0) {
			fds[n] = (struct pollfd){ .fd = j->outfd, .events = POLLIN };
			jobs[n++] = j;
		}
	}
	if (poll(fds, n, wake > now ? (int)(wake - now) : 0) <= 0)
		return;
	for (nfds_t i = 0; i < n; i++) /* output first: the reap frees the job */
		if (fds[i].revents && fds[i].fd == jobs[i]->outfd)
			hooks_job_read(jobs[i]);
	for (j = h->running; j; j = next) {
		next = j->next;
		for (nfds_t i = 0; i < n; i++)
			if (jobs[i] == j && fds[i].fd == j->pidfd && fds[i].revents) {
				hooks_job_reap(j);
				break;
			}
	}
}

void
hooks_drain(struct hooks *h, unsigned max_ms)
{
	uint64_t until = ev_clock_ms() + max_ms;

	struct hooks_job *j;

	while (h->running && ev_clock_ms() < until)
		hooks_drain_once(h, until);
	while ((j = h->queue_head)) { /* out of time: what waits is not started any more */
		h->queue_head = j->next;
		h->nqueued--;
		h->stats.dropped++;
		log_warnx("hook %s: not run: shutting down", hooks_event_name(j->event));
		hooks_job_free(j);
	}
	h->queue_tail = NULL;
	for (j = h->running; j; j = j->next)
		hooks_job_kill(j);
	while (h->running) { /* SIGKILLed: their exits come at once */
		siginfo_t info = { 0 };

		if (waitid(P_PID, (id_t)h->running->pid, &info, WEXITED) < 0)
			break;
		hooks_job_end(h->running, &info);
	}
}

void
hooks_free(struct hooks *h)
{
	struct hooks_job *j, *next;

	if (!h)
		return;
	for (j = h->running; j; j = next) {
		next = j->next;
		kill(-j->pid, SIGKILL);
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		ev_io_stop(h->loop, &j->pid_io);
		ev_io_stop(h->loop, &j->out_io);
		ev_timer_stop(h->loop, &j->timer);
		close(j->pidfd);
		if (j->outfd >= 0)
			close(j->outfd);
		hooks_job_free(j);
	}
	for (j = h->queue_head; j; j = next) {
		next = j->next;
		hooks_job_free(j);
	}
	free(h);
}

enum hooks_answer
hooks_parse_answer(const char *out, size_t len)
{
	const char *nl = memchr(out, '\n', len);
	size_t end = nl ? (size_t)(nl - out) : len, start = 0;

	while (start < end && (out[start] == ' ' || out[start] == '\t'))
		start++;
	while (end > start && (out[end - 1] == ' ' || out[end - 1] == '\t' || out[end - 1] == '\r'))
		end--;
	if (end - start == 7 && !memcmp(out + start, "approve", 7))
		return HOOKS_ANSWER_APPROVE;
	if (end - start == 4 && !memcmp(out + start, "deny", 4))
		return HOOKS_ANSWER_DENY;
	return HOOKS_ANSWER_NONE;
}
