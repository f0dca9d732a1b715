/* tests/common/test_taskgroup.c — task groups on a real libuv loop. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

/* ------------------------------------------------------------ fixtures */

/* What a timer task does when asked to cancel. */
enum on_cancel {
	CANCEL_STOPS,   /* stops its timer and finishes with SN_E_CANCELLED at once */
	CANCEL_IGNORED, /* only notes it; finishes later with its real result */
	CANCEL_FAILS,   /* its cleanup fails: finishes with SN_E_CORRUPT */
};

/* A task that finishes `delay_ms` after it starts with `result`. */
struct ttask {
	const char *name;
	uint64_t delay_ms;
	int result;
	enum on_cancel on_cancel;
	uint64_t timeout_ms;
	/* observed */
	struct sn_task *t;
	uv_timer_t timer;
	bool timer_live;
	int started, hooks, done_calls, done_err;
};

static void ttask_close_timer(struct ttask *a)
{
	if (a->timer_live) {
		uv_timer_stop(&a->timer);
		uv_close((uv_handle_t *)&a->timer, NULL);
		a->timer_live = false;
	}
}

static void ttask_fired(uv_timer_t *h)
{
	struct ttask *a = h->data;

	ttask_close_timer(a);
	if (a->result == SN_E_IO)
		sn_task_fail(a->t, a->result, "disk %d unreadable", 3);
	else
		sn_task_done(a->t, a->result);
}

static int ttask_start(struct sn_task *t, void *arg)
{
	struct ttask *a = arg;

	a->t = t;
	a->started++;
	assert_int_equal(uv_timer_init(sn_task_loop(t), &a->timer), 0);
	a->timer.data = a;
	a->timer_live = true;
	assert_int_equal(uv_timer_start(&a->timer, ttask_fired, a->delay_ms, 0), 0);
	return SN_OK;
}

static void ttask_cancel(struct sn_task *t, void *arg)
{
	struct ttask *a = arg;

	a->hooks++;
	switch (a->on_cancel) {
	case CANCEL_STOPS:
		ttask_close_timer(a);
		sn_task_done(t, SN_E_CANCELLED);
		break;
	case CANCEL_IGNORED:
		break;
	case CANCEL_FAILS:
		ttask_close_timer(a);
		sn_task_fail(t, SN_E_CORRUPT, "torn write during cancel");
		break;
	}
}

static void ttask_done(struct sn_task *t, int err, void *ud)
{
	struct ttask *a = ud;

	assert_ptr_equal(t, a->t);
	a->done_calls++;
	a->done_err = err;
}

static struct sn_task_spec ttask_spec(struct ttask *a)
{
	struct sn_task_spec s = {
		.name = a->name, .start = ttask_start, .cancel = ttask_cancel, .arg = a,
		.timeout_ms = a->timeout_ms, .on_done = ttask_done, .on_done_arg = a,
	};
	return s;
}

static void add(struct sn_taskgroup *g, struct ttask *a)
{
	struct sn_task_spec s = ttask_spec(a);

	assert_int_equal(sn_task_create(NULL, g, &s), SN_OK);
}

/* What a group's completion callback saw. */
struct outcome {
	int calls, err;
	size_t nerrs;
	struct sn_task_error errs[8];
};

static void group_done(void *ud, int err, const struct sn_task_error *errs, size_t nerrs)
{
	struct outcome *o = ud;

	o->calls++;
	o->err = err;
	o->nerrs = nerrs;
	for (size_t i = 0; i < nerrs && i < SN_ARRAY_LEN(o->errs); i++)
		o->errs[i] = errs[i];
}

/* Runs loop until nothing is left, closes it, and returns how long it ran (ms). */
static uint64_t loop_run_close(uv_loop_t *loop)
{
	uint64_t t0, t1;

	uv_update_time(loop);
	t0 = uv_now(loop);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	t1 = uv_now(loop);
	assert_int_equal(uv_loop_close(loop), 0); /* nothing left open */
	return t1 - t0;
}

static int reset_faults(void **state)
{
	(void)state;
	sn_alloc_fail_after(0);
	return 0;
}

/* ------------------------------------------------------------ tests */

static void test_all_succeed(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct ttask a[3] = {
		{ .name = "a", .delay_ms = 5 }, { .name = "b", .delay_ms = 1 },
		{ .name = "c", .delay_ms = 3, .timeout_ms = 10000 },
	};

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	for (int i = 0; i < 3; i++)
		add(g, &a[i]);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	assert_int_equal(o.calls, 0); /* not before every task has finished */
	uint64_t ran_ms = loop_run_close(&loop);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, SN_OK);
	assert_int_equal(o.nerrs, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(a[i].done_calls, 1);
		assert_int_equal(a[i].done_err, SN_OK);
		assert_int_equal(a[i].hooks, 0);
	}
	assert_true(ran_ms < 5000); /* c's 10 s timeout did not hold the loop open */
}

static int create_result;

static void try_create_after_failure(struct sn_task *t, int err, void *ud)
{
	static struct ttask late = { .name = "late", .delay_ms = 1 };
	struct sn_taskgroup *g = ud;
	struct sn_task_spec s = ttask_spec(&late);

	(void)t;
	(void)err;
	create_result = sn_task_create(NULL, g, &s);
}

static void test_first_failure_cancels_rest(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct ttask fails = { .name = "fetch-headers", .delay_ms = 2, .result = SN_E_IO };
	struct ttask dirty = { .name = "flush", .delay_ms = 10000, .on_cancel = CANCEL_FAILS };
	struct ttask clean = { .name = "ping", .delay_ms = 10000, .on_cancel = CANCEL_STOPS };
	struct ttask stubborn = { .name = "verify", .delay_ms = 20, .on_cancel = CANCEL_IGNORED,
	                          .result = SN_E_BADSIG };
	struct sn_task_spec s;
	struct sn_task *h;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	s = ttask_spec(&fails);
	add(g, &dirty);
	add(g, &clean);
	add(g, &stubborn);
	assert_int_equal(sn_task_create(&h, g, &s), SN_OK);
	assert_int_equal(sn_task_await(h, try_create_after_failure, g), SN_OK);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);

	assert_int_equal(create_result, SN_E_CANCELLED); /* an aborting group takes no tasks */
	assert_int_equal(clean.hooks, 1);
	assert_int_equal(clean.done_err, SN_E_CANCELLED);
	assert_int_equal(dirty.hooks, 1);
	assert_int_equal(stubborn.hooks, 1);
	assert_int_equal(stubborn.done_calls, 1);
	assert_int_equal(fails.hooks, 0);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, SN_E_IO);
	/* Every failure with its task and cause, in finishing order; "ping" was cancelled. */
	assert_int_equal(o.nerrs, 3);
	assert_string_equal(o.errs[0].task, "fetch-headers");
	assert_int_equal(o.errs[0].code, SN_E_IO);
	assert_string_equal(o.errs[0].message, "disk 3 unreadable");
	assert_int_equal(o.errs[0].id, sn_task_id(h));
	sn_task_release(h);
	assert_string_equal(o.errs[1].task, "flush");
	assert_int_equal(o.errs[1].code, SN_E_CORRUPT);
	assert_string_equal(o.errs[1].message, "torn write during cancel");
	assert_string_equal(o.errs[2].task, "verify");
	assert_int_equal(o.errs[2].code, SN_E_BADSIG);
	assert_string_equal(o.errs[2].message, sn_strerror(SN_E_BADSIG));
}

static void test_task_timeout(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct ttask slow = { .name = "slow-peer", .delay_ms = 10000, .timeout_ms = 5 };
	struct ttask quick = { .name = "quick", .delay_ms = 1, .timeout_ms = 10000 };
	struct ttask other = { .name = "other", .delay_ms = 10000 };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	add(g, &slow);
	add(g, &quick);
	add(g, &other);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	assert_true(loop_run_close(&loop) < 5000);
	assert_int_equal(slow.done_err, SN_E_TIMEOUT);
	assert_int_equal(quick.done_err, SN_OK);
	assert_int_equal(other.done_err, SN_E_CANCELLED);
	assert_int_equal(o.err, SN_E_TIMEOUT);
	assert_int_equal(o.nerrs, 1);
	assert_string_equal(o.errs[0].task, "slow-peer");
	assert_int_equal(o.errs[0].code, SN_E_TIMEOUT);
	assert_string_equal(o.errs[0].message, "timed out after 5 ms");
}

static void test_group_timeout(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct ttask fast = { .name = "fast", .delay_ms = 1 };
	struct ttask s1 = { .name = "s1", .delay_ms = 10000 };
	struct ttask s2 = { .name = "s2", .delay_ms = 10000 };
	struct ttask late = { .name = "late", .delay_ms = 30, .on_cancel = CANCEL_IGNORED };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 10), SN_OK);
	add(g, &fast);
	add(g, &s1);
	add(g, &s2);
	add(g, &late);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	assert_true(loop_run_close(&loop) < 5000);
	assert_int_equal(fast.done_err, SN_OK);
	assert_int_equal(late.done_err, SN_OK); /* finished with its real result */
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, SN_E_TIMEOUT);
	assert_int_equal(o.nerrs, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(o.errs[i].code, SN_E_TIMEOUT);
		assert_string_equal(o.errs[i].message, "group deadline of 10 ms passed");
	}
	assert_true((!strcmp(o.errs[0].task, "s1") && !strcmp(o.errs[1].task, "s2")) ||
	            (!strcmp(o.errs[0].task, "s2") && !strcmp(o.errs[1].task, "s1")));
}

static void test_cancel_one_task(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct sn_task *h;
	struct outcome o = { 0 };
	struct ttask victim = { .name = "victim", .delay_ms = 10000 };
	struct ttask bystander = { .name = "bystander", .delay_ms = 3 };
	struct sn_task_spec s = ttask_spec(&victim);
	int res;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(&h, g, &s), SN_OK);
	add(g, &bystander);
	assert_int_equal(sn_task_result(h, &res), SN_E_BUSY);
	sn_task_cancel(h);
	assert_true(sn_task_cancel_requested(h));
	sn_task_cancel(h); /* no-op: already finished */
	assert_int_equal(victim.hooks, 1);
	assert_int_equal(sn_task_result(h, &res), SN_OK);
	assert_int_equal(res, SN_E_CANCELLED);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	/* A cancelled task is not a failure: the rest carries on. */
	assert_int_equal(bystander.done_err, SN_OK);
	assert_int_equal(o.err, SN_OK);
	assert_int_equal(o.nerrs, 0);
	assert_string_equal(sn_task_name(h), "victim");
	sn_task_release(h); /* the handle outlived the group */
	sn_task_release(NULL);
}

/* A task that awaits another one and finishes with its result plus one. */
struct awaiter_task {
	struct sn_task *target;
	struct sn_task *self;
	int seen[3], nseen;
};

static void awaited(struct sn_task *t, int err, void *ud)
{
	struct awaiter_task *w = ud;

	(void)t;
	w->seen[w->nseen++] = err;
	if (w->nseen == 2)
		sn_task_done(w->self, err == SN_OK ? SN_OK : SN_E_INVAL);
}

static void awaited_first(struct sn_task *t, int err, void *ud)
{
	awaited(t, err, ud);
}

static int awaiter_start(struct sn_task *t, void *arg)
{
	struct awaiter_task *w = arg;

	w->self = t;
	int rc = sn_task_await(w->target, awaited_first, w);
	if (rc != SN_OK)
		return rc;
	return sn_task_await(w->target, awaited, w);
}

static void test_await_task(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct sn_task *target, *waiter;
	struct outcome o = { 0 };
	struct ttask a = { .name = "target", .delay_ms = 3 };
	struct sn_task_spec s = ttask_spec(&a);
	struct awaiter_task w = { 0 };
	struct sn_task_spec ws = { .name = "waiter", .start = awaiter_start, .arg = &w };
	int res;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(&target, g, &s), SN_OK);
	w.target = target;
	assert_int_equal(sn_task_create(&waiter, g, &ws), SN_OK);
	assert_int_equal(sn_task_result(waiter, &res), SN_E_BUSY);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(w.nseen, 2);
	assert_int_equal(w.seen[0], SN_OK);
	assert_int_equal(w.seen[1], SN_OK);
	assert_int_equal(sn_task_result(waiter, &res), SN_OK);
	assert_int_equal(res, SN_OK);
	/* Awaiting a finished task answers at once. */
	assert_int_equal(sn_task_await(target, awaited, &w), SN_OK);
	assert_int_equal(w.nseen, 3);
	assert_int_equal(o.err, SN_OK);
	sn_task_release(target);
	sn_task_release(waiter);
}

/* ------------------------------------------------------------ threads */

#define SUBMITS 64

struct submitter {
	struct sn_taskgroup *g;
	pthread_t thread, loop_thread;
	uv_async_t finished;
	struct sn_task *keeper;
	int submit_errors;
	int started, done_calls, wrong_thread;
};

static int quick_start(struct sn_task *t, void *arg)
{
	struct submitter *s = arg;

	s->started++;
	if (!pthread_equal(pthread_self(), s->loop_thread))
		s->wrong_thread++;
	sn_task_done(t, SN_OK);
	return SN_OK;
}

static void quick_done(struct sn_task *t, int err, void *ud)
{
	struct submitter *s = ud;

	(void)t;
	if (err == SN_OK)
		s->done_calls++;
}

static void log_done_cancelled(struct sn_task *t, int err, void *ud)
{
	struct submitter *s = ud;

	(void)t;
	if (err == SN_E_CANCELLED)
		s->done_calls++;
}

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;

	for (int i = 0; i < SUBMITS; i++) {
		char name[32];
		struct sn_task_spec spec = { .name = name, .start = quick_start, .arg = s,
		                             .on_done = quick_done, .on_done_arg = s };

		snprintf(name, sizeof(name), "remote-%d", i);
		if (sn_taskgroup_submit(s->g, &spec) != SN_OK)
			s->submit_errors++;
		if (i % 8 == 0)
			usleep(200);
	}
	uv_async_send(&s->finished);
	return NULL;
}

static void submitter_finished(uv_async_t *h)
{
	struct submitter *s = h->data;

	assert_int_equal(pthread_join(s->thread, NULL), 0);
	uv_close((uv_handle_t *)&s->finished, NULL);
	sn_task_done(s->keeper, SN_OK);
}

/* The thread's lifetime is covered by this task, so the group outlives every submit. */
static int keeper_start(struct sn_task *t, void *arg)
{
	struct submitter *s = arg;

	s->keeper = t;
	assert_int_equal(uv_async_init(sn_task_loop(t), &s->finished, submitter_finished), 0);
	s->finished.data = s;
	assert_int_equal(pthread_create(&s->thread, NULL, submit_thread, s), 0);
	return SN_OK;
}

static void test_submit_from_thread(void **state)
{
	uv_loop_t loop;
	struct outcome o = { 0 };
	struct submitter s = { .loop_thread = pthread_self() };
	struct sn_task_spec keeper = { .name = "keeper", .start = keeper_start, .arg = &s };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&s.g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(NULL, s.g, &keeper), SN_OK);
	assert_int_equal(sn_taskgroup_close(s.g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(s.submit_errors, 0);
	assert_int_equal(s.started, SUBMITS);
	assert_int_equal(s.done_calls, SUBMITS);
	assert_int_equal(s.wrong_thread, 0);
	assert_int_equal(o.err, SN_OK);
}

/* Submitted tasks still queued when the group aborts never start; their on_done still runs. */
static void test_submit_while_aborting(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct submitter s = { .loop_thread = pthread_self() };
	struct sn_task_spec spec = { .name = "queued", .start = quick_start, .arg = &s,
	                             .on_done = log_done_cancelled, .on_done_arg = &s };
	struct ttask a = { .name = "a", .delay_ms = 1 };
	struct sn_task_spec as = ttask_spec(&a);

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	/* Any thread may submit, the loop thread too; these wait for the async wake-up. */
	assert_int_equal(sn_taskgroup_submit(g, &spec), SN_OK);
	assert_int_equal(sn_taskgroup_submit(g, &spec), SN_OK);
	sn_taskgroup_cancel(g);
	assert_int_equal(sn_taskgroup_submit(g, &spec), SN_E_CANCELLED);
	assert_int_equal(sn_task_create(NULL, g, &as), SN_E_CANCELLED);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(s.started, 0);
	assert_int_equal(s.done_calls, 2);
	assert_int_equal(a.started, 0);
	assert_int_equal(o.err, SN_E_CANCELLED);
	assert_int_equal(o.nerrs, 0);
}

/* ------------------------------------------------------------ nesting */

struct owner {
	struct ttask kids[2];
	struct sn_taskgroup *child;
	bool explicit_cb;
	struct outcome child_outcome;
	struct sn_task *t;
};

static void child_done(void *ud, int err, const struct sn_task_error *errs, size_t nerrs)
{
	struct owner *w = ud;

	group_done(&w->child_outcome, err, errs, nerrs);
	sn_task_done(w->t, err);
}

static int owner_start(struct sn_task *t, void *arg)
{
	struct owner *w = arg;
	int rc;

	w->t = t;
	rc = sn_taskgroup_new_child(&w->child, t, 0);
	if (rc != SN_OK)
		return rc;
	for (int i = 0; i < 2; i++) {
		struct sn_task_spec s = ttask_spec(&w->kids[i]);

		rc = sn_task_create(NULL, w->child, &s);
		if (rc != SN_OK)
			break; /* the child is still closed below, so it ends */
	}
	if (w->explicit_cb)
		return sn_taskgroup_close(w->child, child_done, w) ? SN_E_INVAL : rc;
	/* cb NULL: the owner finishes with the child's result and failures. */
	return sn_taskgroup_close(w->child, NULL, NULL) ? SN_E_INVAL : rc;
}

static void cancel_group_fired(uv_timer_t *h)
{
	sn_taskgroup_cancel(h->data);
	uv_close((uv_handle_t *)h, NULL);
}

static void test_nested_parent_cancel(void **state)
{
	uv_loop_t loop;
	uv_timer_t canceller;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct owner w = { .kids = { { .name = "k1", .delay_ms = 10000 },
	                             { .name = "k2", .delay_ms = 10000 } },
	                   .explicit_cb = true };
	struct sn_task_spec s = { .name = "sync", .start = owner_start, .arg = &w };
	struct ttask sibling = { .name = "sibling", .delay_ms = 10000 };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(NULL, g, &s), SN_OK);
	add(g, &sibling);
	assert_int_equal(uv_timer_init(&loop, &canceller), 0);
	canceller.data = g;
	assert_int_equal(uv_timer_start(&canceller, cancel_group_fired, 2, 0), 0);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(w.kids[i].hooks, 1);
		assert_int_equal(w.kids[i].done_err, SN_E_CANCELLED);
	}
	assert_int_equal(w.child_outcome.calls, 1);
	assert_int_equal(w.child_outcome.err, SN_E_CANCELLED);
	assert_int_equal(w.child_outcome.nerrs, 0);
	assert_int_equal(sibling.done_err, SN_E_CANCELLED);
	assert_int_equal(o.err, SN_E_CANCELLED);
	assert_int_equal(o.nerrs, 0);
}

static void test_nested_child_failure(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct owner w = { .kids = { { .name = "check-sig", .delay_ms = 2, .result = SN_E_BADSIG },
	                             { .name = "check-nonce", .delay_ms = 10000 } } };
	struct sn_task_spec s = { .name = "verify-block", .start = owner_start, .arg = &w };
	struct ttask sibling = { .name = "sibling", .delay_ms = 10000 };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(NULL, g, &s), SN_OK);
	add(g, &sibling);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(w.kids[1].done_err, SN_E_CANCELLED);
	assert_int_equal(sibling.done_err, SN_E_CANCELLED); /* the parent aborted too */
	assert_int_equal(o.err, SN_E_BADSIG);
	assert_int_equal(o.nerrs, 1);
	assert_string_equal(o.errs[0].task, "verify-block/check-sig");
	assert_int_equal(o.errs[0].code, SN_E_BADSIG);
}

/* ------------------------------------------------------------ races */

struct racer {
	uv_timer_t timer;
	struct sn_task *target;
};

static void racer_fired(uv_timer_t *h)
{
	struct racer *r = h->data;

	sn_task_cancel(r->target);
	uv_close((uv_handle_t *)h, NULL);
}

/* The task's timer and a cancel fire in the same loop iteration, in both orders. */
static void run_cancel_race(bool cancel_first)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct ttask a = { .name = "finishing", .delay_ms = 5, .on_cancel = CANCEL_IGNORED };
	struct sn_task_spec s = ttask_spec(&a);
	struct racer r;
	int res;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(uv_timer_init(&loop, &r.timer), 0);
	r.timer.data = &r;
	/* Timers due at the same time run in the order they were started. */
	if (cancel_first)
		assert_int_equal(uv_timer_start(&r.timer, racer_fired, 5, 0), 0);
	assert_int_equal(sn_task_create(&r.target, g, &s), SN_OK);
	if (!cancel_first)
		assert_int_equal(uv_timer_start(&r.timer, racer_fired, 5, 0), 0);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(a.hooks, cancel_first ? 1 : 0);
	assert_int_equal(a.done_calls, 1);
	assert_int_equal(a.done_err, SN_OK); /* the real result stands */
	assert_int_equal(sn_task_result(r.target, &res), SN_OK);
	assert_int_equal(res, SN_OK);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, SN_OK);
	sn_task_release(r.target);
}

static void test_cancel_while_finishing(void **state)
{
	(void)state;
	run_cancel_race(true);
	run_cancel_race(false);

	/* A failure aborts the group in the iteration where another task finishes. */
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct ttask bad = { .name = "bad", .delay_ms = 5, .result = SN_E_NONCE };
	struct ttask good = { .name = "good", .delay_ms = 5, .on_cancel = CANCEL_IGNORED };
	struct ttask sync = { .name = "sync", .delay_ms = 5, .on_cancel = CANCEL_STOPS };

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	add(g, &bad);
	add(g, &good);
	add(g, &sync);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(good.done_calls, 1);
	assert_int_equal(good.done_err, SN_OK);
	assert_int_equal(sync.done_calls, 1);
	assert_int_equal(sync.done_err, SN_E_CANCELLED);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, SN_E_NONCE);
	assert_int_equal(o.nerrs, 1);
	assert_string_equal(o.errs[0].task, "bad");
}

/* ------------------------------------------------------------ thread pool */

#define POOL 4 /* UV_THREADPOOL_SIZE, set in main */

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	int result; /* what the work returns */
	atomic_int running, ran;
};

static void gate_open(struct gate *gt)
{
	pthread_mutex_lock(&gt->mu);
	gt->open = true;
	pthread_cond_broadcast(&gt->cv);
	pthread_mutex_unlock(&gt->mu);
}

static int gated_work(struct sn_task *t, void *arg)
{
	struct gate *gt = arg;

	(void)t;
	atomic_fetch_add(&gt->running, 1);
	atomic_fetch_add(&gt->ran, 1);
	pthread_mutex_lock(&gt->mu);
	while (!gt->open)
		pthread_cond_wait(&gt->cv, &gt->mu);
	pthread_mutex_unlock(&gt->mu);
	atomic_fetch_sub(&gt->running, 1);
	return gt->result;
}

static int plain_work(struct sn_task *t, void *arg)
{
	atomic_int *ran = arg;

	(void)t;
	atomic_fetch_add(ran, 1);
	return SN_OK;
}

struct result_log {
	int calls, err;
};

static void log_done(struct sn_task *t, int err, void *ud)
{
	struct result_log *l = ud;

	(void)t;
	l->calls++;
	l->err = err;
}

static void test_work_cancelled_while_queued(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct gate blockers = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, SN_OK, 0, 0 };
	struct sn_task_spec bs = { .name = "blocker", .work = plain_work };
	atomic_int victim_ran = 0;
	struct result_log victim_log = { 0 };
	struct sn_task_spec vs = { .name = "victim", .work = plain_work, .arg = &victim_ran,
	                           .on_done = log_done, .on_done_arg = &victim_log };
	struct sn_task *victim;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	/* Fill every pool thread, so the victim waits in the queue. */
	bs.work = gated_work;
	bs.arg = &blockers;
	for (int i = 0; i < POOL; i++)
		assert_int_equal(sn_task_create(NULL, g, &bs), SN_OK);
	assert_int_equal(sn_task_create(&victim, g, &vs), SN_OK);
	sn_task_cancel(victim);
	gate_open(&blockers);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(atomic_load(&victim_ran), 0); /* never ran */
	assert_int_equal(victim_log.calls, 1);
	assert_int_equal(victim_log.err, SN_E_CANCELLED);
	assert_int_equal(atomic_load(&blockers.ran), POOL);
	assert_int_equal(o.err, SN_OK);
	assert_int_equal(o.nerrs, 0);
	sn_task_release(victim);
}

struct poller {
	uv_timer_t timer;
	struct sn_task *target;
	struct gate *gate;
	bool requested;
};

static void poll_running(uv_timer_t *h)
{
	struct poller *p = h->data;

	if (atomic_load(&p->gate->running) == 0)
		return;
	sn_task_cancel(p->target); /* too late for uv_cancel: it runs to the end */
	p->requested = sn_task_cancel_requested(p->target);
	gate_open(p->gate);
	uv_close((uv_handle_t *)h, NULL);
}

static void test_work_cancelled_while_running(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };
	struct gate gt = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, SN_E_IO, 0, 0 };	/* discarded */
	struct result_log log = { 0 }, ok_log = { 0 };
	atomic_int ok_ran = 0;
	struct sn_task_spec ws = { .name = "hash-range", .work = gated_work, .arg = &gt,
	                           .on_done = log_done, .on_done_arg = &log };
	struct sn_task_spec oks = { .name = "plain", .work = plain_work, .arg = &ok_ran,
	                            .on_done = log_done, .on_done_arg = &ok_log };
	struct poller p = { .gate = &gt };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(&p.target, g, &ws), SN_OK);
	assert_int_equal(sn_task_create(NULL, g, &oks), SN_OK);
	assert_int_equal(uv_timer_init(&loop, &p.timer), 0);
	p.timer.data = &p;
	assert_int_equal(uv_timer_start(&p.timer, poll_running, 1, 1), 0);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_true(p.requested);
	assert_int_equal(atomic_load(&gt.ran), 1);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.err, SN_E_CANCELLED); /* its SN_E_IO was discarded */
	assert_int_equal(ok_log.err, SN_OK);
	assert_int_equal(atomic_load(&ok_ran), 1);
	assert_int_equal(o.err, SN_OK);
	assert_int_equal(o.nerrs, 0);
	sn_task_release(p.target);
}

/* ------------------------------------------------------------ edges */

static void test_empty_group(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct outcome o = { 0 };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	/* Its 60 s deadline must not hold the loop once it is closed. */
	assert_int_equal(sn_taskgroup_new(&g, &loop, 60000), SN_OK);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_E_INVAL);
	assert_int_equal(o.calls, 0);
	assert_true(loop_run_close(&loop) < 5000);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, SN_OK);
	assert_int_equal(o.nerrs, 0);
}

static void test_bad_arguments(void **state)
{
	uv_loop_t loop;
	struct sn_taskgroup *g;
	struct sn_task *t = (struct sn_task *)&loop;
	struct outcome o = { 0 };
	struct sn_task_spec none = { .name = "none" };
	struct sn_task_spec both = { .start = ttask_start, .work = plain_work };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sn_taskgroup_new(&g, NULL, 0), SN_E_INVAL);
	assert_null(g);
	assert_int_equal(sn_taskgroup_new(&g, &loop, 0), SN_OK);
	assert_int_equal(sn_task_create(&t, g, &none), SN_E_INVAL);
	assert_null(t);
	assert_int_equal(sn_task_create(NULL, g, &both), SN_E_INVAL);
	assert_int_equal(sn_task_create(NULL, g, NULL), SN_E_INVAL);
	assert_int_equal(sn_taskgroup_submit(g, &none), SN_E_INVAL);
	assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
	loop_run_close(&loop);
	assert_int_equal(o.err, SN_OK);
}

/* Fails the nth allocation for n = 1, 2, ... through a group with tasks, a handle, an
 * await, a submit and a nested group. Every call either works or says SN_E_NOMEM; a
 * failed create runs no callback; the group ends with SN_OK or SN_E_NOMEM; ASan's leak
 * check sees no leaks. */
static void test_alloc_failure(void **state)
{
	bool completed_clean = false;

	(void)state;
	for (unsigned long n = 1; n < 64 && !completed_clean; n++) {
		uv_loop_t loop;
		struct sn_taskgroup *g;
		struct sn_task *h = NULL;
		struct outcome o = { 0 };
		struct ttask a[2] = { { .name = "a", .delay_ms = 1 }, { .name = "b", .delay_ms = 2 } };
		struct owner w = { .kids = { { .name = "k1", .delay_ms = 1 },
		                             { .name = "k2", .delay_ms = 1 } } };
		struct sn_task_spec ws = { .name = "nest", .start = owner_start, .arg = &w };
		struct submitter sub = { .loop_thread = pthread_self() };
		struct sn_task_spec ss = { .name = "sub", .start = quick_start, .arg = &sub,
		                           .on_done = quick_done, .on_done_arg = &sub };
		struct awaiter_task aw = { 0 };
		bool created[2] = { false, false }, nested = false;
		int rc, fails = 0;

		assert_int_equal(uv_loop_init(&loop), 0);
		sn_alloc_fail_after(n);
		rc = sn_taskgroup_new(&g, &loop, 0);
		if (rc != SN_OK) {
			assert_int_equal(rc, SN_E_NOMEM);
			assert_null(g);
			sn_alloc_fail_after(0);
			loop_run_close(&loop);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			struct sn_task_spec s = ttask_spec(&a[i]);

			rc = sn_task_create(i == 0 ? &h : NULL, g, &s);
			if (rc == SN_OK)
				created[i] = true;
			else
				assert_int_equal(rc, SN_E_NOMEM), fails++;
		}
		if (h) {
			aw.target = h;
			rc = sn_task_await(h, awaited, &aw);
			if (rc != SN_OK)
				assert_int_equal(rc, SN_E_NOMEM), fails++;
		}
		rc = sn_task_create(NULL, g, &ws);
		if (rc == SN_OK)
			nested = true;
		else
			assert_true(rc == SN_E_NOMEM || rc == SN_E_CANCELLED), fails++;
		rc = sn_taskgroup_submit(g, &ss);
		if (rc != SN_OK)
			assert_true(rc == SN_E_NOMEM || rc == SN_E_CANCELLED), fails++;
		assert_int_equal(sn_taskgroup_close(g, group_done, &o), SN_OK);
		loop_run_close(&loop);
		sn_alloc_fail_after(0);

		assert_int_equal(o.calls, 1);
		assert_true(o.err == SN_OK || o.err == SN_E_NOMEM);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(a[i].done_calls, created[i] ? 1 : 0);
			assert_int_equal(a[i].started, created[i] ? 1 : 0);
		}
		if (o.err == SN_OK && fails == 0 && nested && sub.done_calls == 1) {
			assert_int_equal(a[0].done_err, SN_OK);
			assert_int_equal(aw.nseen, 1);
			completed_clean = true;
		}
		sn_task_release(h);
	}
	assert_true(completed_clean); /* n got past every allocation */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_all_succeed, reset_faults),
		cmocka_unit_test_teardown(test_first_failure_cancels_rest, reset_faults),
		cmocka_unit_test_teardown(test_task_timeout, reset_faults),
		cmocka_unit_test_teardown(test_group_timeout, reset_faults),
		cmocka_unit_test_teardown(test_cancel_one_task, reset_faults),
		cmocka_unit_test_teardown(test_await_task, reset_faults),
		cmocka_unit_test_teardown(test_submit_from_thread, reset_faults),
		cmocka_unit_test_teardown(test_submit_while_aborting, reset_faults),
		cmocka_unit_test_teardown(test_nested_parent_cancel, reset_faults),
		cmocka_unit_test_teardown(test_nested_child_failure, reset_faults),
		cmocka_unit_test_teardown(test_cancel_while_finishing, reset_faults),
		cmocka_unit_test_teardown(test_work_cancelled_while_queued, reset_faults),
		cmocka_unit_test_teardown(test_work_cancelled_while_running, reset_faults),
		cmocka_unit_test_teardown(test_empty_group, reset_faults),
		cmocka_unit_test_teardown(test_bad_arguments, reset_faults),
		cmocka_unit_test_teardown(test_alloc_failure, reset_faults),
	};

	/* Before libuv starts its pool: the queued-work test fills exactly this many threads. */
	setenv("UV_THREADPOOL_SIZE", "4", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
