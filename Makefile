# Thin entry points over meson (the real build lives in meson.build).
#   make run    install what is missing, build, prepare templates, serve
#   make test   every test: unit (plain + ASan/UBSan) and end-to-end with the official SDK
#   make bench  figures beside crun and bubblewrap
STATE_DIR ?= /var/lib/nestbox
LISTEN ?= 127.0.0.1:3000
BUILD := build
ASAN_BUILD := build-asan

.PHONY: all deps run test test-unit test-asan test-e2e bench templates clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all

deps:
	scripts/install-deps.sh

templates: all
	scripts/prepare-templates.sh $(STATE_DIR)/templates

run: deps all templates
	$(BUILD)/nestbox serve --listen $(LISTEN) --state-dir $(STATE_DIR)

test: deps all $(ASAN_BUILD)/build.ninja
	scripts/run-tests.sh

test-unit: all
	meson test -C $(BUILD) --print-errorlogs

bench: deps all
	bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
