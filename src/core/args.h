/*
 * args.h: reading fields of option tables (core.new opts, the req table).
 *
 * Each getter reads field `name` of the table at absolute index `t` and raises
 * luaL_argerror(arg, "<where><name> must be ..., got <type>") on a value of the
 * wrong type, so misuse names the field (`bad argument #1 to 'new' (proxy.url
 * must be a string, got number)`). Absent (nil) fields are not errors.
 */
#ifndef OFT_ARGS_H
#define OFT_ARGS_H

#include "compat.h"

/*
 * A string field, or NULL when absent. With len == NULL the caller wants a C
 * string, so an embedded NUL is refused (it would silently cut a path short).
 * The pointer stays valid while the table holds the string.
 */
const char *oft_arg_string(lua_State *L, int t, const char *name, int arg,
                           const char *where, size_t *len);

/* A number field >= 0 (not NaN) into *out; returns 0 when absent. */
int oft_arg_number(lua_State *L, int t, const char *name, int arg,
                   const char *where, double *out);

/* A boolean field, or dflt when absent. */
int oft_arg_boolean(lua_State *L, int t, const char *name, int arg,
                    const char *where, int dflt);

/* Pushes a table field and returns its absolute index; 0 (nothing pushed) when absent. */
int oft_arg_table(lua_State *L, int t, const char *name, int arg, const char *where);

/* Pushes a function field and returns its absolute index; 0 (nothing pushed) when absent. */
int oft_arg_function(lua_State *L, int t, const char *name, int arg, const char *where);

/* Seconds as whole milliseconds, rounded up; 0 stays 0 ("none"), absurdly long is none too. */
long oft_ms(double seconds);

/* Raises luaL_argerror(arg, "<where><name> <what>"). */
OFT_NORETURN void oft_arg_fail(lua_State *L, int arg, const char *where, const char *name, const char *what);

#endif /* OFT_ARGS_H */
