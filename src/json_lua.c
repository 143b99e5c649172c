/* json_lua.c: placeholder until the JSON codec lands (being written now). */
#include "core.h"
void oft_json_open(lua_State *L) { (void)L; }
