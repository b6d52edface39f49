/* SPDX-License-Identifier: MIT */
/*
 * Blocking work off the event loop: work(arg) runs on a thread of its own, then done(arg) runs
 * on the loop. For the few things that may take a while and must not stall everything else a
 * loop does (an agent's packets, a server's other clients): DNS lookups (control/resolve.c) and
 * password checks (server/enrol.c).
 *
 * The job owns arg: free_arg(arg) runs once both the thread and the loop are done with it, on
 * whichever lets go last. So a cancelled job costs the canceller no waiting, and the thread
 * never touches freed memory. work must touch nothing but arg.
 *
 * The threads block every signal, so signals go to the loop (signalfd) whenever a job starts.
 *
 * Bounds: at most OFFLOAD_MAX_THREADS jobs at once per process; one more fails with -EAGAIN.
 * Each kind of job has its share, so that one user cannot take every thread from another:
 * DNS lookups (OFFLOAD_LOOKUP: resolve.c, which a server's federation and list refreshes use,
 * and which anyone who presents a certificate of an unknown domain can cause) at most
 * OFFLOAD_LOOKUP_MAX, so OFFLOAD_MAX_THREADS - OFFLOAD_LOOKUP_MAX threads (8) are always there
 * for the rest (OFFLOAD_DEFAULT: any other blocking work; none today, since password checks
 * moved to the client, docs/trust.md "Enrolment").
 */
#ifndef VERTEX_OFFLOAD_H
#define VERTEX_OFFLOAD_H

struct ev_loop;
struct offload;

enum { OFFLOAD_MAX_THREADS = 32, OFFLOAD_LOOKUP_MAX = 24 };

enum offload_class {
	OFFLOAD_DEFAULT, /* anything without a share of its own: password checks */
	OFFLOAD_LOOKUP,  /* DNS lookups */
	OFFLOAD_NCLASSES,
};

/*
 * Starts a job. done runs exactly once on the loop, never before offload_start returns, unless
 * the job is cancelled. *out (if not NULL) is set while the job runs and cleared before done
 * runs. On failure (-errno) nothing runs and arg stays the caller's.
 */
int offload_start(struct offload **out, struct ev_loop *loop, void (*work)(void *arg),
		  void (*done)(void *arg), void (*free_arg)(void *arg), void *arg);
/* The same for a job of class cls: -EAGAIN also when cls has used its share. */
int offload_start_in(enum offload_class cls, struct offload **out, struct ev_loop *loop,
		     void (*work)(void *arg), void (*done)(void *arg), void (*free_arg)(void *arg),
		     void *arg);
/* Cancels: done does not run; arg is freed when the thread is done with it. NULL is ignored. */
void offload_cancel(struct offload *o);
/* Jobs whose threads are still running (in all, or of one class). */
unsigned offload_running(void);
unsigned offload_running_in(enum offload_class cls);

#endif
