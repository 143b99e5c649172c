/*
 * codec.h: the parts of openai.finetunes.codec that codec.c opens. Nothing
 * here, or in any file of src/codec/, includes libcurl: the codec loads
 * where libcurl is absent or unwanted (inside nginx).
 */
#ifndef OFT_CODEC_H
#define OFT_CODEC_H

#include "compat.h"

/* Registers the metatable `name` of a userdata class: `methods` as its __index,
 * `gc` (may be NULL) as its __gc. Leaves the stack as it was. */
void oft_codec_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc);

/* Each adds its functions to the module table on top of the stack. */
void oft_json_open(lua_State *L);   /* json_lua.c: json_decode, json_encode, null, array_mt */
void oft_url_open(lua_State *L);    /* url.c: escape, encode_query */
void oft_jsonl_open(lua_State *L);  /* jsonl_lua.c: validate_jsonl (training-data checks) */
void oft_md5_open(lua_State *L);    /* hash_lua.c: md5, md5_file, md5_new (RFC 1321) */
void oft_sha256_open(lua_State *L); /* hash_lua.c: sha256, sha256_file, sha256_new (FIPS 180-4) */
void oft_hmac_open(lua_State *L);   /* hmac_lua.c: hmac_sha256 (RFC 2104), equal_constant_time */
void oft_base64_open(lua_State *L); /* base64_lua.c: base64_encode, base64_decode (RFC 4648) */
void oft_upload_part_open(lua_State *L); /* upload_part_lua.c: upload_part (src/exchange/file_source.h) */
void oft_credential_open(lua_State *L); /* credential_lua.c: credential (src/exchange/credential.h) */
void oft_request_open(lua_State *L); /* request_lua.c: url_refusal, header_problem, ... (src/exchange/request.h) */
void oft_exchange_open(lua_State *L); /* exchange_lua.c: response, timer, ... (src/exchange/: the per-request rules) */

#endif /* OFT_CODEC_H */
