/*
 * asan_scope.c: preloaded after the ASan runtime by `make check-asan`.
 *
 * lua5.4 is not built with ASan, so the runtime has to be preloaded into it. But
 * LD_PRELOAD is inherited by every program the specs start (sh, make, openssl,
 * nginx), and ASan in those reports their own bugs and leaks (GNU
 * make 4.3 trips strndup's interceptor) and changes their exit status. So this
 * constructor, which runs in the test process after the runtime is loaded,
 * removes LD_PRELOAD from its environment: the test process, where every client
 * call of the suite runs our C modules, stays sanitized; its children run as usual
 * (Lua children that load our modules run through tools/asan-lua, $OFT_LUA).
 */
#include <stdlib.h>

static void asan_scope(void) __attribute__((constructor));

static void asan_scope(void) {
  unsetenv("LD_PRELOAD");
}
