# The two quick-start commands are `make demo` and `make test`; both set up what is
# missing (Debian packages, the project virtualenv from PyPI, the local stack).
.PHONY: demo test bench-ads bench-keywords bench-import bench-course-stats bench-cleanup bench-cctv bench-sync lint stack-up stack-down

demo:
	scripts/demo.sh

test:
	scripts/test.sh

bench-course-stats:
	scripts/bench-course-stats.sh

bench-cleanup:
	scripts/bench-cleanup.sh

bench-cctv:
	scripts/bench-cctv.sh

bench-ads:
	scripts/bench-ads.sh

bench-keywords:
	scripts/bench-keywords.sh

bench-sync:
	scripts/bench-sync.sh

bench-import:
	scripts/bench-import.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/lint-infra.sh

stack-up:
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down
