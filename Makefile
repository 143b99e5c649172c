# openai-finetunes: build the C core, run the specs, run the demo.
#
#   make                 build the C core for $(LUA) (default lua5.4)
#   make test            run the busted specs (installs missing Debian packages first)
#   make demo            start the fake server and run examples/workflow.lua
#   make test LUA=luajit the same for another interpreter: lua5.1 lua5.2 lua5.3 lua5.4 luajit
#
# Every path is a ?= variable so luarocks or a packager can override it.

LUA        ?= lua5.4
BUILD      ?= build/$(LUA)
CC         ?= cc
PKG_CONFIG ?= pkg-config

ifeq ($(LUA),luajit)
  LUA_INCDIR ?= /usr/include/luajit-2.1
else
  LUA_INCDIR ?= /usr/include/$(LUA)
endif

CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)

WARN    = -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Wcast-qual -Wundef
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
ALL_CFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC $(WARN) $(CFLAGS) \
             -I$(LUA_INCDIR) $(CURL_CFLAGS) $(EXTRA_CFLAGS)
LIBFLAG ?= -shared
LDFLAGS ?=

SRC     = $(sort $(wildcard src/*.c))
OBJ     = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRC))
CORE    = $(BUILD)/openai/finetunes/core.so

BUSTED  ?= busted
SPEC    ?= spec
BUSTED_FLAGS ?=
LUA_PATH_DEV = lua/?.lua;lua/?/init.lua;;
LUA_CPATH_DEV = $(BUILD)/?.so;;

# Debian packages the build, the specs and the demo need.
DEB_PKGS = build-essential pkg-config libcurl4-openssl-dev \
           lua5.4 liblua5.4-dev lua-cjson lua-socket lua-filesystem lua-sec \
           lua-busted lua-check openssl
DEB_PKGS_lua5.1 = lua5.1 liblua5.1-0-dev
DEB_PKGS_lua5.2 = lua5.2 liblua5.2-dev
DEB_PKGS_lua5.3 = lua5.3 liblua5.3-dev
DEB_PKGS_luajit = luajit2 libluajit2-5.1-dev

.PHONY: all deps test demo lint clean

all: $(CORE)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CORE): $(OBJ) | $(BUILD)/openai/finetunes
	$(CC) $(LIBFLAG) $(LDFLAGS) -o $@ $(OBJ) $(CURL_LIBS)

$(BUILD)/obj $(BUILD)/openai/finetunes:
	mkdir -p $@

# Installs what is missing (needs root, as on CI); a no-op when all is there.
deps:
	@sh tools/ensure-debs.sh $(DEB_PKGS) $(DEB_PKGS_$(LUA))

test: deps $(CORE)
	LUA_PATH='$(LUA_PATH_DEV)' LUA_CPATH='$(LUA_CPATH_DEV)' OFT_LUA=$(LUA) \
	  $(BUSTED) --lua=$(LUA) --lpath='lua/?.lua;lua/?/init.lua' \
	  --cpath='$(BUILD)/?.so' $(BUSTED_FLAGS) $(SPEC)

demo: deps $(CORE)
	LUA_PATH='$(LUA_PATH_DEV)' LUA_CPATH='$(LUA_CPATH_DEV)' \
	  $(LUA) examples/run-with-fake-server.lua examples/workflow.lua

lint: deps
	luacheck lua bin spec examples

clean:
	rm -rf build
