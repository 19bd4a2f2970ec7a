#!/usr/bin/env python3
"""Chroma on the same corpus, the same MiniLM weights and the same threads as rag's benchmarks.

    chroma_bench.py ingest CORPUS.jsonl DIR   add every BEIR record (title + text) to a persistent
                                              collection in DIR; prints docs/s and bytes on disk
    chroma_bench.py query QUERIES.jsonl DIR   top-10 for each query (the query's embedding
                                              included), 1 client then 8; prints p50/p95 and QPS

Chroma's embedding function is pointed at the anchors' all-MiniLM-L6-v2 fp32 ONNX file and
tokenizer (`../shared/anchors/setup.sh embed`), run by onnxruntime with --threads intra-op threads,
so nothing is downloaded and both sides embed with the same model. One JSON line on stdout.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True


def embedding_function(anchors, threads):
    sys.path.insert(0, anchors)
    import _common as C
    import embed_ort as E
    from chromadb import Documents, EmbeddingFunction, Embeddings

    md = C.models_dir()
    tok = E.load_tokenizer(str(md / C.MINILM_DIR_NAME))
    sess = E.make_session(str(md / C.ONNX_DIR_NAME / "model_fp32.onnx"), threads)

    class LocalMiniLM(EmbeddingFunction):
        def __init__(self):
            pass

        def __call__(self, input: Documents) -> Embeddings:
            out = []
            for i in range(0, len(input), 32):
                out.extend(E.embed(sess, tok, list(input[i:i + 32])))
            return out

        @staticmethod
        def name():
            return "anchors-minilm-fp32"

    return LocalMiniLM()


def collection(path, ef):
    import chromadb
    client = chromadb.PersistentClient(path=path)
    return client.get_or_create_collection("scifact", embedding_function=ef, metadata={"hnsw:space": "cosine"})


def disk_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def ingest(a, ef):
    records = [json.loads(line) for line in open(a.file, encoding="utf-8") if line.strip()]
    col = collection(a.dir, ef)
    start = time.perf_counter()
    for i in range(0, len(records), 64):
        batch = records[i:i + 64]
        col.add(ids=[str(r["_id"]) for r in batch],
                documents=[(r.get("title", "") + "\n" + r.get("text", "")).strip() for r in batch])
        print(f"\rchroma: {i + len(batch)}/{len(records)} documents", end="", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(file=sys.stderr)
    print(json.dumps({"documents": len(records), "seconds": round(seconds, 2),
                      "documents_per_s": round(len(records) / seconds, 2), "disk_bytes": disk_bytes(a.dir)}))


def query(a, ef):
    queries = [json.loads(line)["text"] for line in open(a.file, encoding="utf-8") if line.strip()][:a.limit]
    col = collection(a.dir, ef)
    for q in queries[:20]:
        col.query(query_texts=[q], n_results=10)
    one = []
    for q in queries:
        start = time.perf_counter()
        col.query(query_texts=[q], n_results=10)
        one.append((time.perf_counter() - start) * 1000)
    many, lock = [], threading.Lock()

    def client(n):
        for q in queries[n::8]:
            start = time.perf_counter()
            col.query(query_texts=[q], n_results=10)
            with lock:
                many.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    pct = lambda xs, p: round(sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 2)
    print(json.dumps({"queries": len(queries), "p50_ms": round(statistics.median(one), 2), "p95_ms": pct(one, 0.95),
                      "clients8_requests_per_s": round(len(many) / elapsed, 1), "clients8_p50_ms": pct(many, 0.5)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["ingest", "query"])
    ap.add_argument("file")
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=300, help="queries (query command)")
    ap.add_argument("--anchors", default=os.environ.get("RAG_ANCHORS", "../shared/anchors"))
    a = ap.parse_args()
    ef = embedding_function(os.path.abspath(a.anchors), a.threads)
    ingest(a, ef) if a.command == "ingest" else query(a, ef)


if __name__ == "__main__":
    main()
