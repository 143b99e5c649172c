/* core.h: module-wide declarations shared by the C core's files. */
#ifndef OFT_CORE_H
#define OFT_CORE_H

#include "compat.h"

#define OFT_VERSION "0.1.0"

/* Each adds its functions to the module table on top of the stack. */
void oft_json_open(lua_State *L); /* json_lua.c: json_decode, json_encode, null, array_mt */
void oft_url_open(lua_State *L);  /* url.c: escape, encode_query */

#endif /* OFT_CORE_H */
