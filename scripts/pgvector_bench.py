"""pgvector's HNSW on an fvecs set, the way `rag index bench` measures rag's: build with the
same m and ef_construction (one build worker), then for each ef (hnsw.ef_search) the recall@10
against the exact neighbours and queries/s of one client in sequence (median of 3 passes).
Prints one JSON object per ef. Usage: pgvector_bench.py SERVER_URL DIR --m 16 --ef-construction 200 --efs 10,20,40
(SERVER_URL: any database of the server; the set goes into a database rag_bench_ann, made here).
"""
import argparse, array, json, statistics, struct, sys, time

import psycopg


def fvecs(path):
    data = open(path, "rb").read()
    d = struct.unpack_from("<i", data, 0)[0]
    n = len(data) // (4 * (d + 1))
    rows = []
    for i in range(n):
        a = array.array("f")
        a.frombytes(data[i * 4 * (d + 1) + 4:(i + 1) * 4 * (d + 1)])
        rows.append(a)
    return rows


def ivecs(path):
    data = open(path, "rb").read()
    d = struct.unpack_from("<i", data, 0)[0]
    n = len(data) // (4 * (d + 1))
    return [struct.unpack_from(f"<{d}i", data, i * 4 * (d + 1) + 4) for i in range(n)]


def text(v):
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("dir")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--efs", default="10,20,40,80,160")
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    base, queries = fvecs(f"{a.dir}/base.fvecs"), fvecs(f"{a.dir}/query.fvecs")
    truth = ivecs(f"{a.dir}/groundtruth.ivecs")
    dims = len(base[0])
    with psycopg.connect(a.url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'rag_bench_ann'").fetchone():
            admin.execute("CREATE DATABASE rag_bench_ann")
    url = a.url.rsplit("/", 1)[0] + "/rag_bench_ann"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        db.execute("DROP TABLE IF EXISTS ann_items")
        db.execute(f"CREATE TABLE ann_items (id integer PRIMARY KEY, e vector({dims}))")
        with db.cursor().copy("COPY ann_items (id, e) FROM STDIN") as copy:
            for i, v in enumerate(base):
                copy.write_row((i, text(v)))
        db.execute("SET maintenance_work_mem = '512MB'")
        db.execute("SET max_parallel_maintenance_workers = 0")  # one build thread, as rag's bench
        start = time.perf_counter()
        db.execute(f"CREATE INDEX ON ann_items USING hnsw (e vector_cosine_ops) WITH (m = {a.m}, ef_construction = {a.ef_construction})")
        build = time.perf_counter() - start
        texts = [text(q) for q in queries]
        for ef in [int(x) for x in a.efs.split(",")]:
            db.execute(f"SET hnsw.ef_search = {ef}")
            found, passes = None, []
            for _ in range(3):
                start = time.perf_counter()
                results = [[r[0] for r in db.execute("SELECT id FROM ann_items ORDER BY e <=> %s::vector LIMIT %s", (q, a.k), prepare=True)] for q in texts]
                passes.append(time.perf_counter() - start)
                found = results
            recall = sum(len(set(r) & set(t[:a.k])) for r, t in zip(found, truth)) / (a.k * len(queries))
            print(json.dumps({"ef": ef, "recall": round(recall, 4), "qps": round(len(queries) / statistics.median(passes), 1), "build_s": round(build, 3)}))
            sys.stdout.flush()


main()
