/* common/taskgroup.c — task groups on a libuv loop (asyncio.TaskGroup semantics).
 *
 * Ownership. A task is reference-counted: the group holds one reference until the task
 * finishes, a handle from sn_task_create holds one until sn_task_release, a running
 * per-task timer holds one until its close callback, and a child group holds one on its
 * owner until it has delivered. A group frees itself after its completion callback, which
 * runs only once every task has finished and every handle it counts (its deadline timer,
 * its async handle, the tasks' timers) is closed, so nothing of it is left on the loop.
 *
 * Threads. The submit queue, the `accepting` flag and the failure array are guarded by the
 * group's mutex (the submit path reserves failure slots from another thread); everything
 * else is touched on the loop thread only. `aborting` and `cancel_requested` are atomics
 * because other threads read them. */
#include "common/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <uv.h>

enum task_state { TASK_QUEUED, TASK_RUNNING, TASK_DONE };
/* Why a task was cancelled by a deadline (a cancelled result then becomes SN_E_TIMEOUT). */
enum task_deadline { DEADLINE_NONE, DEADLINE_TASK, DEADLINE_GROUP };

struct task_awaiter {
	struct task_awaiter *next;
	sn_task_done_cb *cb;
	void *ud;
};

struct sn_task {
	struct sn_taskgroup *g;      /* valid while not finished, and while timer_open */
	uv_loop_t *loop;
	struct sn_task *prev, *next; /* g's live list; next also links the submit queue */
	unsigned refs;
	enum task_state state;
	enum task_deadline deadline;
	atomic_bool cancel_requested;
	bool in_start;    /* inside start: the cancel hook waits until start returns */
	bool timer_open;  /* timer initialised and not yet closed */
	bool has_message; /* message set by sn_task_fail or a deadline */
	int result;
	int work_result;
	uint64_t id;
	uint64_t timeout_ms;
	sn_task_start_fn *start;
	sn_task_cancel_fn *cancel;
	sn_task_work_fn *work;
	void *arg;
	sn_task_done_cb *on_done;
	void *on_done_arg;
	struct task_awaiter *awaiters, *awaiters_tail;
	struct sn_taskgroup *children;    /* open child groups owned by this task */
	struct sn_task_error *inherited;  /* failures of this task's finished child groups */
	size_t ninherited;
	uv_timer_t timer;
	uv_work_t work_req;
	char name[SN_TASK_NAME_MAX];
	char message[SN_TASK_MSG_MAX];
};

struct sn_taskgroup {
	uv_loop_t *loop;
	uv_timer_t timer; /* group deadline */
	uv_async_t async; /* wakes the loop for submitted tasks */
	uv_mutex_t mu;
	/* Guarded by mu. */
	struct sn_task *queue_head, *queue_tail;
	bool accepting;
	struct sn_task_error *errs;
	size_t nerrs, caperrs;
	size_t reserved; /* slots promised to unfinished (live or queued) tasks */
	/* Loop thread. */
	atomic_bool aborting;
	int cause; /* what aborted the group */
	bool closing, finishing;
	struct sn_task *live, *live_tail; /* in creation order */
	size_t nlive;
	unsigned open_handles;
	uint64_t timeout_ms;
	sn_taskgroup_done_cb *done;
	void *done_ud;
	struct sn_task *owner;       /* a child group's owner task */
	struct sn_taskgroup *sibling; /* in owner->children */
};

static atomic_uint_fast64_t task_next_id;

static void task_finish(struct sn_task *t, int err);
static void group_maybe_complete(struct sn_taskgroup *g);
static void group_abort(struct sn_taskgroup *g, int cause, enum task_deadline deadline);

/* ------------------------------------------------------------ helpers */

static void task_free(struct sn_task *t)
{
	struct task_awaiter *a;

	while ((a = t->awaiters) != NULL) {
		t->awaiters = a->next;
		sn_free(a);
	}
	sn_free(t->inherited);
	sn_free(t);
}

static void task_unref(struct sn_task *t)
{
	assert(t->refs > 0);
	if (--t->refs == 0)
		task_free(t);
}

/* Capacity for `need` entries in total. Caller holds g->mu. */
static int errs_grow_locked(struct sn_taskgroup *g, size_t need)
{
	struct sn_task_error *n;
	size_t cap;

	if (need <= g->caperrs)
		return SN_OK;
	cap = g->caperrs ? g->caperrs * 2 : 4;
	if (cap < need)
		cap = need;
	if (cap > SIZE_MAX / sizeof(*n))
		return SN_E_NOMEM;
	n = sn_realloc(g->errs, cap * sizeof(*n));
	if (!n)
		return SN_E_NOMEM;
	g->errs = n;
	g->caperrs = cap;
	return SN_OK;
}

/* Promises one failure slot to a new task, so recording its failure cannot fail. */
static int errs_reserve_locked(struct sn_taskgroup *g)
{
	int rc = errs_grow_locked(g, g->nerrs + g->reserved + 1);

	if (rc == SN_OK)
		g->reserved++;
	return rc;
}

/* Appends src to the NUL-terminated dst of capacity cap, truncating. */
static void str_append(char *dst, size_t cap, const char *src)
{
	size_t used = strlen(dst);
	size_t n = strlen(src);

	if (n > cap - 1 - used)
		n = cap - 1 - used;
	memcpy(dst + used, src, n);
	dst[used + n] = '\0';
}

static void error_set(struct sn_task_error *e, const char *owner, const char *task,
                      uint64_t id, int code, const char *msg)
{
	memset(e, 0, sizeof(*e));
	if (owner) {
		str_append(e->task, sizeof(e->task), owner);
		str_append(e->task, sizeof(e->task), "/");
	}
	str_append(e->task, sizeof(e->task), task);
	e->id = id;
	e->code = code;
	str_append(e->message, sizeof(e->message), msg);
}

/* Records t's failure: the failures of its child groups under "t/child" if it has any,
 * else its own. Uses the slot reserved at creation; extra child entries need room, and
 * without it the first stands for them all. */
static void group_record_failure(struct sn_taskgroup *g, struct sn_task *t, int code)
{
	uv_mutex_lock(&g->mu);
	g->reserved--;
	if (t->ninherited == 0) {
		error_set(&g->errs[g->nerrs++], NULL, t->name, t->id, code,
		          t->has_message ? t->message : sn_strerror(code));
	} else {
		size_t n = t->ninherited;

		if (errs_grow_locked(g, g->nerrs + g->reserved + n) != SN_OK)
			n = 1;
		for (size_t i = 0; i < n; i++) {
			const struct sn_task_error *c = &t->inherited[i];

			error_set(&g->errs[g->nerrs++], t->name, c->task, c->id, c->code, c->message);
		}
	}
	uv_mutex_unlock(&g->mu);
}

static void group_release_slot(struct sn_taskgroup *g)
{
	uv_mutex_lock(&g->mu);
	g->reserved--;
	uv_mutex_unlock(&g->mu);
}

static void live_link(struct sn_taskgroup *g, struct sn_task *t)
{
	t->next = NULL;
	t->prev = g->live_tail;
	if (g->live_tail)
		g->live_tail->next = t;
	else
		g->live = t;
	g->live_tail = t;
	g->nlive++;
	t->state = TASK_RUNNING;
}

static void live_unlink(struct sn_taskgroup *g, struct sn_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		g->live = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		g->live_tail = t->prev;
	t->prev = t->next = NULL;
	g->nlive--;
}

/* ------------------------------------------------------------ tasks */

static bool spec_valid(const struct sn_task_spec *spec)
{
	if (!spec)
		return false;
	if (spec->work)
		return !spec->start && !spec->cancel;
	return spec->start != NULL;
}

/* Allocates a task in TASK_QUEUED holding the group's reference. Any thread. */
static int task_new(struct sn_task **out, struct sn_taskgroup *g, const struct sn_task_spec *spec)
{
	struct sn_task *t = sn_calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return SN_E_NOMEM;
	t->g = g;
	t->loop = g->loop;
	t->refs = 1;
	t->state = TASK_QUEUED;
	atomic_init(&t->cancel_requested, false);
	t->id = (uint64_t)atomic_fetch_add(&task_next_id, 1) + 1;
	t->timeout_ms = spec->timeout_ms;
	t->start = spec->start;
	t->cancel = spec->cancel;
	t->work = spec->work;
	t->arg = spec->arg;
	t->on_done = spec->on_done;
	t->on_done_arg = spec->on_done_arg;
	str_append(t->name, sizeof(t->name), spec->name ? spec->name : "task");
	*out = t;
	return SN_OK;
}

static void task_call_hook(struct sn_task *t)
{
	if (t->work)
		(void)uv_cancel((uv_req_t *)&t->work_req); /* UV_EBUSY once running: discarded */
	else if (t->cancel)
		t->cancel(t, t->arg);
}

static void task_cancel(struct sn_task *t, enum task_deadline deadline)
{
	struct sn_taskgroup *c, *next;

	if (t->state != TASK_RUNNING || atomic_load(&t->cancel_requested))
		return;
	t->deadline = deadline;
	atomic_store(&t->cancel_requested, true);
	t->refs++;
	for (c = t->children; c && t->state == TASK_RUNNING; c = next) {
		next = c->sibling;
		sn_taskgroup_cancel(c);
	}
	if (t->state == TASK_RUNNING && !t->in_start)
		task_call_hook(t);
	task_unref(t);
}

static void task_timer_closed(uv_handle_t *h)
{
	struct sn_task *t = h->data;
	struct sn_taskgroup *g = t->g;

	t->timer_open = false;
	task_unref(t);
	g->open_handles--;
	group_maybe_complete(g);
}

static void task_timer_fired(uv_timer_t *h)
{
	struct sn_task *t = h->data;

	task_cancel(t, DEADLINE_TASK);
}

static void work_run(uv_work_t *req)
{
	struct sn_task *t = req->data;

	t->work_result = t->work(t, t->arg);
}

static void work_after(uv_work_t *req, int status)
{
	struct sn_task *t = req->data;

	if (status == UV_ECANCELED || atomic_load(&t->cancel_requested))
		task_finish(t, SN_E_CANCELLED);
	else
		task_finish(t, t->work_result);
}

/* Starts a task already linked into the live list. */
static void task_start(struct sn_task *t)
{
	struct sn_taskgroup *g = t->g;
	int rc;

	t->refs++;
	if (t->timeout_ms) {
		uv_timer_init(t->loop, &t->timer);
		t->timer.data = t;
		t->timer_open = true;
		t->refs++;
		g->open_handles++;
		uv_timer_start(&t->timer, task_timer_fired, t->timeout_ms, 0);
	}
	t->in_start = true;
	if (t->work) {
		t->work_req.data = t;
		rc = uv_queue_work(t->loop, &t->work_req, work_run, work_after) ? SN_E_IO : SN_OK;
	} else {
		rc = t->start(t, t->arg);
	}
	t->in_start = false;
	if (rc != SN_OK) {
		if (t->state == TASK_DONE)
			SN_LOG(SN_LOG_WARN, "taskgroup", "task %s: start failed after finishing", t->name);
		else
			task_finish(t, rc > 0 ? SN_E_INVAL : rc);
	} else if (t->state == TASK_RUNNING && atomic_load(&t->cancel_requested)) {
		task_call_hook(t); /* cancelled while starting */
	}
	task_unref(t);
}

static void task_finish(struct sn_task *t, int err)
{
	struct sn_taskgroup *g = t->g;
	struct task_awaiter *a;
	bool was_running = t->state == TASK_RUNNING;

	if (t->state == TASK_DONE) {
		SN_LOG(SN_LOG_WARN, "taskgroup", "task %s finished twice", t->name);
		return;
	}
	t->state = TASK_DONE;
	if (err > 0)
		err = SN_E_INVAL;
	if (err == SN_E_CANCELLED && t->deadline != DEADLINE_NONE) {
		err = SN_E_TIMEOUT;
		if (t->deadline == DEADLINE_TASK)
			snprintf(t->message, sizeof(t->message), "timed out after %llu ms",
			         (unsigned long long)t->timeout_ms);
		else
			snprintf(t->message, sizeof(t->message), "group deadline of %llu ms passed",
			         (unsigned long long)g->timeout_ms);
		t->has_message = true;
	}
	t->result = err;
	if (t->timer_open && !uv_is_closing((uv_handle_t *)&t->timer)) {
		uv_timer_stop(&t->timer);
		uv_close((uv_handle_t *)&t->timer, task_timer_closed);
	}
	/* A child group outliving its owner breaks the nesting: cancel and detach it. */
	while (t->children) {
		struct sn_taskgroup *c = t->children;

		t->children = c->sibling;
		c->sibling = NULL;
		c->owner = NULL;
		SN_LOG(SN_LOG_WARN, "taskgroup", "task %s finished before its child group", t->name);
		sn_taskgroup_cancel(c);
		task_unref(t); /* the child's reference; the group's is still held */
	}
	if (was_running)
		live_unlink(g, t);
	if (err < 0 && err != SN_E_CANCELLED) {
		group_record_failure(g, t, err);
		group_abort(g, err, DEADLINE_NONE);
	} else {
		group_release_slot(g);
	}
	if (t->on_done)
		t->on_done(t, err, t->on_done_arg);
	while ((a = t->awaiters) != NULL) {
		t->awaiters = a->next;
		a->cb(t, err, a->ud);
		sn_free(a);
	}
	t->awaiters_tail = NULL;
	task_unref(t); /* the group's reference */
	group_maybe_complete(g);
}

int sn_task_create(struct sn_task **out, struct sn_taskgroup *g, const struct sn_task_spec *spec)
{
	struct sn_task *t;
	int rc;

	if (out)
		*out = NULL;
	if (!g || !spec_valid(spec) || g->finishing)
		return SN_E_INVAL;
	if (atomic_load(&g->aborting))
		return SN_E_CANCELLED;
	rc = task_new(&t, g, spec);
	if (rc != SN_OK)
		return rc;
	uv_mutex_lock(&g->mu);
	rc = errs_reserve_locked(g);
	uv_mutex_unlock(&g->mu);
	if (rc != SN_OK) {
		task_free(t);
		return rc;
	}
	if (out) {
		t->refs++;
		*out = t;
	}
	live_link(g, t);
	task_start(t);
	return SN_OK;
}

void sn_task_done(struct sn_task *t, int err)
{
	task_finish(t, err);
}

void sn_task_fail(struct sn_task *t, int err, const char *fmt, ...)
{
	va_list ap;

	if (t->state != TASK_DONE) {
		va_start(ap, fmt);
		vsnprintf(t->message, sizeof(t->message), fmt, ap);
		va_end(ap);
		t->has_message = true;
	}
	task_finish(t, err);
}

void sn_task_cancel(struct sn_task *t)
{
	if (t)
		task_cancel(t, DEADLINE_NONE);
}

int sn_task_await(struct sn_task *t, sn_task_done_cb *cb, void *ud)
{
	struct task_awaiter *a;

	if (!t || !cb)
		return SN_E_INVAL;
	if (t->state == TASK_DONE) {
		cb(t, t->result, ud);
		return SN_OK;
	}
	a = sn_malloc(sizeof(*a));
	if (!a)
		return SN_E_NOMEM;
	a->next = NULL;
	a->cb = cb;
	a->ud = ud;
	if (t->awaiters_tail)
		t->awaiters_tail->next = a;
	else
		t->awaiters = a;
	t->awaiters_tail = a;
	return SN_OK;
}

int sn_task_result(const struct sn_task *t, int *result)
{
	*result = 0;
	if (t->state != TASK_DONE)
		return SN_E_BUSY;
	*result = t->result;
	return SN_OK;
}

void sn_task_release(struct sn_task *t)
{
	if (t)
		task_unref(t);
}

bool sn_task_cancel_requested(const struct sn_task *t)
{
	return atomic_load(&((struct sn_task *)t)->cancel_requested);
}

const char *sn_task_name(const struct sn_task *t)
{
	return t->name;
}

uint64_t sn_task_id(const struct sn_task *t)
{
	return t->id;
}

struct uv_loop_s *sn_task_loop(const struct sn_task *t)
{
	return t->loop;
}

/* ------------------------------------------------------------ groups */

static void group_deadline_fired(uv_timer_t *h)
{
	group_abort(h->data, SN_E_TIMEOUT, DEADLINE_GROUP);
}

/* Starts submitted tasks, one at a time so the group cannot finish with some still queued. */
static void group_drain(uv_async_t *h)
{
	struct sn_taskgroup *g = h->data;
	struct sn_task *t;

	for (;;) {
		uv_mutex_lock(&g->mu);
		t = g->queue_head;
		if (t) {
			g->queue_head = t->next;
			if (!g->queue_head)
				g->queue_tail = NULL;
			t->next = NULL;
		}
		uv_mutex_unlock(&g->mu);
		if (!t)
			break;
		if (atomic_load(&g->aborting)) {
			task_finish(t, SN_E_CANCELLED); /* never started */
		} else {
			live_link(g, t);
			task_start(t);
		}
	}
	group_maybe_complete(g);
}

static void group_abort(struct sn_taskgroup *g, int cause, enum task_deadline deadline)
{
	struct sn_task *t, *next;

	if (atomic_load(&g->aborting) || g->finishing)
		return;
	atomic_store(&g->aborting, true);
	g->cause = cause;
	uv_timer_stop(&g->timer);
	/* Hooks may finish any task synchronously: hold t across its hook, and start over
	 * from the head when t left the list (finished tasks leave, so this ends). */
	for (t = g->live; t; t = next) {
		if (atomic_load(&t->cancel_requested)) {
			next = t->next;
			continue;
		}
		t->refs++;
		task_cancel(t, deadline);
		next = t->state == TASK_RUNNING ? t->next : g->live;
		task_unref(t);
	}
}

static void group_deliver(struct sn_taskgroup *g)
{
	struct sn_task *owner = g->owner;
	const struct sn_task_error *errs = g->errs;
	size_t nerrs = g->nerrs;
	int err = atomic_load(&g->aborting) ? g->cause : SN_OK;

	if (err == SN_E_CANCELLED && nerrs)
		err = g->errs[0].code;
	if (owner) {
		struct sn_taskgroup **pp = &owner->children;

		while (*pp != g)
			pp = &(*pp)->sibling;
		*pp = g->sibling;
		/* Hand the failures to the owner, which reports them if it fails. */
		if (nerrs && owner->ninherited == 0) {
			owner->inherited = g->errs;
			owner->ninherited = nerrs;
			g->errs = NULL;
			errs = owner->inherited;
		} else if (nerrs && nerrs <= SIZE_MAX / sizeof(*errs) - owner->ninherited) {
			struct sn_task_error *n = sn_realloc(owner->inherited,
			                                     (owner->ninherited + nerrs) * sizeof(*n));
			if (n) {
				memcpy(n + owner->ninherited, g->errs, nerrs * sizeof(*n));
				owner->inherited = n;
				errs = n + owner->ninherited;
				owner->ninherited += nerrs;
			}
		}
	}
	if (g->done)
		g->done(g->done_ud, err, errs, nerrs);
	else if (owner && owner->state == TASK_RUNNING)
		task_finish(owner, err);
	if (owner)
		task_unref(owner);
	uv_mutex_destroy(&g->mu);
	sn_free(g->errs);
	sn_free(g);
}

static void group_handle_closed(uv_handle_t *h)
{
	struct sn_taskgroup *g = h->data;

	g->open_handles--;
	group_maybe_complete(g);
}

/* Once closed and idle, closes the group's handles; the last close delivers. */
static void group_maybe_complete(struct sn_taskgroup *g)
{
	bool idle;

	if (g->finishing) {
		if (g->open_handles == 0)
			group_deliver(g);
		return;
	}
	if (!g->closing || g->nlive)
		return;
	uv_mutex_lock(&g->mu);
	idle = g->queue_head == NULL;
	if (idle)
		g->accepting = false;
	uv_mutex_unlock(&g->mu);
	if (!idle)
		return;
	g->finishing = true;
	uv_timer_stop(&g->timer);
	uv_close((uv_handle_t *)&g->timer, group_handle_closed);
	uv_close((uv_handle_t *)&g->async, group_handle_closed);
}

static int group_new(struct sn_taskgroup **out, uv_loop_t *loop, uint64_t timeout_ms)
{
	struct sn_taskgroup *g = sn_calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return SN_E_NOMEM;
	if (uv_mutex_init(&g->mu) != 0) {
		sn_free(g);
		return SN_E_IO;
	}
	if (uv_async_init(loop, &g->async, group_drain) != 0) {
		uv_mutex_destroy(&g->mu);
		sn_free(g);
		return SN_E_IO;
	}
	g->async.data = g;
	uv_unref((uv_handle_t *)&g->async); /* an open group alone does not keep the loop */
	uv_timer_init(loop, &g->timer);
	g->timer.data = g;
	g->loop = loop;
	g->accepting = true;
	atomic_init(&g->aborting, false);
	g->open_handles = 2;
	g->timeout_ms = timeout_ms;
	if (timeout_ms)
		uv_timer_start(&g->timer, group_deadline_fired, timeout_ms, 0);
	*out = g;
	return SN_OK;
}

int sn_taskgroup_new(struct sn_taskgroup **out, struct uv_loop_s *loop, uint64_t timeout_ms)
{
	if (!out)
		return SN_E_INVAL;
	*out = NULL;
	if (!loop)
		return SN_E_INVAL;
	return group_new(out, loop, timeout_ms);
}

int sn_taskgroup_new_child(struct sn_taskgroup **out, struct sn_task *owner, uint64_t timeout_ms)
{
	int rc;

	if (!out)
		return SN_E_INVAL;
	*out = NULL;
	if (!owner || owner->state != TASK_RUNNING)
		return SN_E_INVAL;
	if (atomic_load(&owner->cancel_requested))
		return SN_E_CANCELLED;
	rc = group_new(out, owner->loop, timeout_ms);
	if (rc != SN_OK)
		return rc;
	(*out)->owner = owner;
	owner->refs++;
	(*out)->sibling = owner->children;
	owner->children = *out;
	return SN_OK;
}

int sn_taskgroup_close(struct sn_taskgroup *g, sn_taskgroup_done_cb *cb, void *ud)
{
	if (!g || g->closing)
		return SN_E_INVAL;
	g->closing = true;
	g->done = cb;
	g->done_ud = ud;
	/* From now on the loop must run until cb, also for submitted tasks still queued. */
	uv_ref((uv_handle_t *)&g->async);
	group_maybe_complete(g);
	return SN_OK;
}

void sn_taskgroup_cancel(struct sn_taskgroup *g)
{
	if (g)
		group_abort(g, SN_E_CANCELLED, DEADLINE_NONE);
}

int sn_taskgroup_submit(struct sn_taskgroup *g, const struct sn_task_spec *spec)
{
	struct sn_task *t;
	int rc;

	if (!g || !spec_valid(spec))
		return SN_E_INVAL;
	rc = task_new(&t, g, spec);
	if (rc != SN_OK)
		return rc;
	uv_mutex_lock(&g->mu);
	if (!g->accepting || atomic_load(&g->aborting))
		rc = SN_E_CANCELLED;
	else
		rc = errs_reserve_locked(g);
	if (rc == SN_OK) {
		if (g->queue_tail)
			g->queue_tail->next = t;
		else
			g->queue_head = t;
		g->queue_tail = t;
		/* Under the lock: once the group stops accepting, no send can still be on its way. */
		uv_async_send(&g->async);
	}
	uv_mutex_unlock(&g->mu);
	if (rc != SN_OK)
		task_free(t);
	return rc;
}
