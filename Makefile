# Patchboard. `make run` starts the portal on a demo fleet; `make test` is
# what CI runs.

GO      ?= go
DB      ?= patchboard.db
ADDR    ?= 127.0.0.1:8080
BIN     := bin/patchboard
BENCH   ?= .
BENCHTIME ?= 1x

.PHONY: all build run demo test test-short fuzz fuzz-brief loadtest bench bench-scale scale generate check-generated lint fmt clean

all: build

build: generate
	$(GO) build -o $(BIN) ./cmd/patchboard

# run: a demo fleet in $(DB) on first start, then the portal on $(ADDR).
# Plain HTTP on the loopback address, hence --insecure-cookies.
run: build
	@if [ ! -f $(DB) ]; then ./$(BIN) --db $(DB) demo; fi
	@echo "Sign in at http://$(ADDR)/ with a demo account:"
	@echo "  Service Administrator: admin@patchboard.demo  / demo-admin-password"
	@echo "  Service Reader:        reader@patchboard.demo / demo-reader-password"
	@echo "  Global Administrator:  global@patchboard.demo / demo-global-password"
	./$(BIN) --db $(DB) serve --addr $(ADDR) --insecure-cookies

generate:
	$(GO) tool templ generate -log-level error

# check-generated fails when regenerating the templ views changes them, i.e.
# when the committed *_templ.go files are stale.
check-generated:
	@before=$$(cat views/*_templ.go | sha256sum); \
	$(GO) tool templ generate -log-level error; \
	after=$$(cat views/*_templ.go | sha256sum); \
	if [ "$$before" != "$$after" ]; then echo "views/*_templ.go were stale (now regenerated): commit them"; exit 1; fi

# lint: vet, gofmt, and errcheck: no production call drops an error, except
# the few kinds .errcheck-excludes lists with its reasons (the stand-ins of
# outside services for tests, graphtest and oidctest, are not production).
lint:
	$(GO) vet ./...
	$(GO) tool errcheck -ignoretests -ignoregenerated -exclude .errcheck-excludes $$($(GO) list ./... | grep -v -e /graphtest -e /oidctest)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# test: every package; the browser tests (web/browser, headless Chromium)
# run verbosely into a log so that the line after them says how many ran and
# how many were skipped (without Chromium they skip, unless CI is set).
test: lint check-generated
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/web/browser$$')
	@$(MAKE) --no-print-directory fuzz-brief
	@log=$$(mktemp); $(GO) test -count=1 -timeout 30m -v ./web/browser/ >$$log 2>&1; rc=$$?; \
	ran=$$(grep -cE '^--- (PASS|FAIL)' $$log); skipped=$$(grep -cE '^--- SKIP' $$log); \
	if [ $$rc -ne 0 ]; then cat $$log; fi; \
	echo "browser tests: $$ran ran, $$skipped skipped$$( [ $$skipped -gt 0 ] && grep -m1 -B1 -E '^--- SKIP' $$log | head -1 | sed -E 's/^ *[a-z_]+\.go:[0-9]+: / (/; s/$$/)/')"; \
	rm -f $$log; exit $$rc

# Fuzz targets, as package:Target. make test runs each of the portal's
# briefly (their seed corpora run with the tests anyway); make fuzz runs every
# one for FUZZTIME.
FUZZ_PORTAL  := ./web:FuzzBladeQuery ./web:FuzzForms
FUZZ_ALL     := $(FUZZ_PORTAL) ./store:FuzzReadInventoryCSV ./store:FuzzDecodeInventoryJSON ./store/rule:FuzzParse ./store/rule:FuzzFold
FUZZTIME     ?= 2m
FUZZBRIEF    ?= 5s

fuzz-brief:
	@log=$$(mktemp); for t in $(FUZZ_PORTAL); do pkg=$${t%%:*}; name=$${t##*:}; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZBRIEF) $$pkg >$$log 2>&1 || \
		{ tail -40 $$log; rm -f $$log; echo "fuzz $$name failed: rerun with go test -run '^$$' -fuzz '^$$name$$' $$pkg"; exit 1; }; done; \
		rm -f $$log
	@echo "fuzz: $(FUZZ_PORTAL) for $(FUZZBRIEF) each, no failures"

fuzz:
	@for t in $(FUZZ_ALL); do pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

# loadtest: 50 signed-in readers browsing, searching and exporting while an
# administrator discovers and acts, against the real binary (not in CI).
# PATCHBOARD_LOAD_DEVICES (100000) and PATCHBOARD_LOAD_DURATION (60s) size it.
loadtest:
	PATCHBOARD_LOADTEST=1 $(GO) test -count=1 -run '^TestLoad$$' -v -timeout 60m ./cmd/patchboard/

test-short:
	$(GO) test -short ./...

# bench: the benchmarks at the sizes the issues name (100,000 devices).
# The portal's figures are BenchmarkServePortal and BenchmarkServeExport in
# ./cmd/patchboard/: the real binary in its own process, over loopback.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m ./...

# bench-scale: the same at 1,000,000 devices (slow: several minutes).
bench-scale:
	PATCHBOARD_BENCH_DEVICES=1000000 $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 1x -benchmem -timeout 120m ./store/ ./web/ ./cmd/patchboard/

# scale: the 1,000,000-device targets (not in CI; tens of minutes): the real
# binary's start-up discovery (time, peak RSS and anonymous memory), the
# store's first and unchanged discovery (peak heap and RSS, CPU per run) and
# its export of the Ready tab. PATCHBOARD_BENCH_DB=FILE serves a demo
# database seeded before instead of seeding one.
scale:
	PATCHBOARD_BENCH_DEVICES=1000000 $(GO) test -run '^$$' -bench 'BenchmarkServeStartup' -benchtime 1x -timeout 120m ./cmd/patchboard/
	PATCHBOARD_BENCH_DEVICES=1000000 $(GO) test -run '^$$' -bench 'BenchmarkDiscovery(First|Unchanged)|BenchmarkExportReady' -benchtime 1x -benchmem -timeout 120m ./store/

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '_templ.go$$')

clean:
	rm -rf bin
