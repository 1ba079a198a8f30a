# bismarck: the PGXS build (extension .so, install, pg_regress) and the project's commands.
# CMake (CMakeLists.txt) builds the PostgreSQL-free core's unit tests and benchmarks; both builds
# read their C++ flags from the file `cxxflags`.
#
#   make demo    install what is missing, build, install, start a throw-away cluster, run the demo
#   make test    the same set-up, then unit tests and pg_regress; ends with "N passed, N failed"
#   make bench   the benchmarks (QUICK=1 for a few minutes); writes bench/results/report.md
#   make format  clang-format the C++

EXTENSION    = bismarck
MODULE_big   = bismarck
DATA         = $(wildcard sql/bismarck--*.sql)
OBJS         = $(patsubst %.cpp,%.o,$(wildcard src/uda/*.cpp src/shuffle/*.cpp))
PG_CPPFLAGS  = -Isrc
PG_CXXFLAGS := $(shell cat cxxflags)
SHLIB_LINK   = -lstdc++ -lm
REGRESS      = $(sort $(basename $(notdir $(wildcard sql_tests/*.sql))))
REGRESS_OPTS = --inputdir=build/regress --outputdir=build/regress --load-extension=bismarck
EXTRA_CLEAN  = build

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
# pgxs.mk can be present without the server headers (Debian ships it with the server package).
PG_HEADERS := $(wildcard $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)/postgres.h)

ifneq ($(and $(wildcard $(PGXS)),$(PG_HEADERS)),)
# Debian's server is built with LLVM: PGXS would also compile every source to bitcode with clang,
# ignoring our C++ flags. JIT-inlining an extension like this one buys nothing.
override with_llvm = no
include $(PGXS)
else ifdef BISMARCK_DEPS_DONE
$(error no PostgreSQL server headers found by $(PG_CONFIG) even after scripts/deps.sh build)
else
# No server headers yet (a fresh machine): install what building needs, then do what was asked
# (once: the variable stops a loop if the headers are still missing afterwards).
all install installcheck:
	./scripts/deps.sh build
	$(MAKE) $@ BISMARCK_DEPS_DONE=1
endif

# Every header a source includes is a dependency of its object.
$(OBJS): $(wildcard src/*/*.hpp) cxxflags

# pg_regress in PostgreSQL 15 reads <inputdir>/sql and <inputdir>/expected.
installcheck: build/regress/sql build/regress/expected
build/regress/sql build/regress/expected:
	mkdir -p build/regress
	ln -sfn ../../sql_tests build/regress/sql
	ln -sfn ../../expected build/regress/expected

.PHONY: deps demo test test-asan unit bench format
# Each job installs its own packages (scripts/deps.sh PROFILE); `make` itself only the build's.
deps:
	./scripts/deps.sh build

unit:
	./scripts/deps.sh unit
	./scripts/unit.sh

test-asan:
	./scripts/deps.sh unit
	./scripts/unit.sh --asan

test:
	./scripts/deps.sh test
	$(MAKE) all
	./scripts/test.sh

demo:
	./scripts/deps.sh demo
	$(MAKE) all
	$(MAKE) install
	./scripts/cluster.sh run -- ./scripts/demo.sh

bench:
	./scripts/deps.sh bench
	$(MAKE) all
	$(MAKE) install
	QUICK=$(QUICK) ./scripts/cluster.sh run --conf 'max_parallel_workers_per_gather = 2' --huge-pages -- ./bench/run.sh

format:
	./scripts/deps.sh format
	clang-format -i $(wildcard src/*/*.cpp src/*/*.hpp tests/*.cpp bench/*.cpp)
