# The two commands of the README:
#   make dev   installs what is missing, builds, seeds demo data into the local KV and
#              runs the provider on http://localhost:8787
#   make test  runs every test: host unit tests, then end to end against `wrangler dev`, then
#              the pages in headless Chromium, then MCP clients through the SDK
.PHONY: dev test tools build unit e2e browser mcp screenshots admin clippy bench deploy doctor

tools:
	@bash scripts/install-tools.sh

build: tools
	@bash scripts/build.sh

admin:
	@cargo build -q --bin oidc-admin

dev: build admin
	@bash scripts/dev.sh

# PROPTEST_CASES bounds the property tests ("fuzzing") of src/protocol/fuzz.rs.
unit: tools
	PROPTEST_CASES=$${PROPTEST_CASES:-2000} cargo test --workspace --exclude e2e

e2e: build admin
	bash scripts/e2e.sh

# The pages in headless Chromium (tests/browser/): flows, errors, languages, accessibility.
browser: build admin
	bash scripts/browser.sh

# MCP clients (the MCP TypeScript SDK) against the provider and the example resource server.
mcp: build admin
	bash scripts/mcp.sh

# The README's screenshots (docs/screenshots/), taken by the browser suite.
screenshots: build admin
	BROWSER_README_SHOTS=docs/screenshots bash scripts/browser.sh languages

test: unit clippy e2e browser mcp

clippy: tools
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --features bench -- -D warnings

# A deployment (docs/deployment.md): KV namespaces, ISSUER, secrets, `oidc-admin doctor
# --remote`, then `wrangler deploy`. Idempotent. DEPLOY_ARGS="--issuer https://login.example.com".
deploy: tools admin
	target/debug/oidc-admin deploy $(DEPLOY_ARGS)

# Checks the local configuration (DOCTOR_ARGS=--remote: the deployed one).
doctor: tools admin
	target/debug/oidc-admin $(DOCTOR_ARGS) doctor

# Benchmark suite (bench/README.md): builds its own release workers under .bench/out, runs them
# with miniflare on loopback, writes bench/RESULTS.md. BENCH_ARGS=--quick for a short run.
bench: tools
	bash scripts/bench.sh $(BENCH_ARGS)
