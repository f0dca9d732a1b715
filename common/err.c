/* common/err.c — the error table's text. */
#include "common/common.h"

#include <errno.h>

static const char *const err_names[SN__ERR_COUNT] = {
#define X(n, s, m) [SN__IDX_##n] = s,
	SN_ERRORS(X)
#undef X
};
static const char *const err_msgs[SN__ERR_COUNT] = {
#define X(n, s, m) [SN__IDX_##n] = m,
	SN_ERRORS(X)
#undef X
};

/* Compares without negating err: -INT_MIN overflows. */
static bool err_known(int err)
{
	return err <= 0 && err > -(int)SN__ERR_COUNT;
}

const char *sn_strerror(int err)
{
	if (!err_known(err))
		return "unknown error";
	return err_msgs[-err];
}

const char *sn_errname(int err)
{
	if (!err_known(err))
		return "unknown_error";
	return err_names[-err];
}

int sn_err_from_errno(int e)
{
	switch (e) {
	case 0:
		return SN_OK;
	case ENOMEM:
		return SN_E_NOMEM;
	case ENOENT:
		return SN_E_NOTFOUND;
	case EEXIST:
		return SN_E_EXISTS;
	case EINVAL:
		return SN_E_INVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return SN_E_DISKFULL;
	case EACCES:
	case EPERM:
	case EROFS:
		return SN_E_ACCESS;
	default:
		return SN_E_IO;
	}
}
