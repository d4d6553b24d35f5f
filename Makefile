# shardfdw: PGXS build of the sharded foreign-data wrapper.
#
#   make && make install          build and install into the pg_config found
#   make installcheck             pg_regress suite in a temporary instance
#   bash scripts/test.sh          everything (apt, build, pg_regress, TAP
#                                 suites in t/), as root; what CI runs
#
# Everything compiles warning-free under -Wall -Wextra -Werror.

MODULE_big = shardfdw
OBJS = \
	src/shardfdw.o \
	src/option.o \
	src/connection.o \
	src/cancel.o \
	src/commands.o \
	src/reshard.o \
	src/deadlock.o \
	src/deparse.o \
	src/shard.o \
	src/scan.o \
	src/import.o \
	src/combine.o \
	src/join.o \
	src/upper.o \
	src/xact.o \
	src/recovery.o \
	src/modify.o

EXTENSION = shardfdw
DATA = shardfdw--1.0.sql
PGFILEDESC = "shardfdw - sharded foreign tables over many PostgreSQL servers"

PG_CPPFLAGS = -I$(srcdir)/include -I$(shell $(PG_CONFIG) --includedir)
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = -L$(shell $(PG_CONFIG) --libdir) -lpq

# pg_regress: self-contained, one temporary instance; shards are databases
# of that instance.
REGRESS = $(shell cat $(srcdir)/test/schedule)
REGRESS_OPTS = --temp-instance=$(CURDIR)/tmp_check \
	--temp-config=$(srcdir)/test/regress.conf --load-extension=shardfdw

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every object depends on the shared headers (PGXS tracks no header
# dependencies): a changed struct must rebuild all of its users.
$(OBJS): $(wildcard $(srcdir)/include/*.h)
