/* url.c: placeholder until the URL encoders land (being written now). */
#include "core.h"
void oft_url_open(lua_State *L) { (void)L; }
