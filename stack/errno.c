/* lwIP's err_t to errno: the one place it is translated (STYLE.md). The
 * meanings follow what a POSIX caller expects from the call that failed,
 * which is where this table departs from lwIP's own err_to_errno(). */
#include <errno.h>

#include "instance.h"
#include "skiff_testing.h"

int skiff__errno(err_t err)
{
	switch (err) {
	case ERR_OK:
		return 0;
	case ERR_MEM:
		return ENOMEM;
	case ERR_BUF:
		return ENOBUFS;
	case ERR_TIMEOUT:
		return ETIMEDOUT;
	case ERR_RTE:
		return EHOSTUNREACH;
	case ERR_INPROGRESS:
		return EINPROGRESS;
	case ERR_VAL:
		return EINVAL;
	case ERR_WOULDBLOCK:
		return EWOULDBLOCK;
	case ERR_USE:
		return EADDRINUSE;
	case ERR_ALREADY:
		return EALREADY;
	case ERR_ISCONN:
		return EISCONN;
	case ERR_CONN:
		return ENOTCONN;
	case ERR_IF:
		return ENETDOWN; /* the netif refused: the link is down */
	case ERR_ABRT:
		return ECONNABORTED;
	case ERR_RST:
		return ECONNRESET;
	case ERR_CLSD:
		return ENOTCONN;
	case ERR_ARG:
		return EINVAL;
	default:
		return EIO;
	}
}
