/*
 * errors.h: the kind of a libcurl failure. The err table itself, and the
 * kinds' meanings, are src/exchange/outcome.h's (one shape for every transport).
 */
#ifndef OFT_ERRORS_H
#define OFT_ERRORS_H

#include <curl/curl.h>

#include "exchange/outcome.h"

/*
 * The stable kind for a libcurl result and its error-buffer message; the only
 * such mapping in the core. The message only refines: libcurl 7.88 reports a
 * proxy refusing the CONNECT tunnel (407, 502...) as a receive error, which is
 * "proxy" here. A refused TCP connection to the proxy stays "connect": libcurl
 * does not say whether the proxy or the target refused it.
 */
const char *oft_error_kind(CURLcode code, const char *message);

#endif /* OFT_ERRORS_H */
