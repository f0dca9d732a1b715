/* common/log.c — levelled logging through one sink that node/ sets. */
#include "common/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

static const char *const level_names[] = { "trace", "debug", "info", "warn", "error", "off" };

static atomic_int log_min = SN_LOG_INFO;
static sn_log_fn *log_fn;
static void *log_ud;

static void log_default(void *ud, enum sn_log_level lvl, const char *subsys, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s %-8s %s\n", when, ts.tv_nsec / 1000000L,
	        level_names[lvl], subsys, msg);
}

void sn_log_set(sn_log_fn *fn, void *ud, enum sn_log_level min)
{
	log_fn = fn;
	log_ud = ud;
	atomic_store(&log_min, (int)min);
}

enum sn_log_level sn_log_level_get(void)
{
	return (enum sn_log_level)atomic_load_explicit(&log_min, memory_order_relaxed);
}

const char *sn_log_level_name(enum sn_log_level lvl)
{
	return (unsigned)lvl < SN_ARRAY_LEN(level_names) ? level_names[lvl] : "?";
}

int sn_log_level_parse(enum sn_log_level *out, const char *s)
{
	*out = SN_LOG_INFO;
	for (size_t i = 0; i < SN_ARRAY_LEN(level_names); i++) {
		if (s && strcasecmp(s, level_names[i]) == 0) {
			*out = (enum sn_log_level)i;
			return SN_OK;
		}
	}
	return SN_E_INVAL;
}

void sn_log_emit(enum sn_log_level lvl, const char *subsys, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (lvl < sn_log_level_get() || lvl >= SN_LOG_OFF)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(log_fn ? log_fn : log_default)(log_ud, lvl, subsys, msg);
}
