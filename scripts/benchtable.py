"""One table for `make bench`: each benchmark script appends its headline figures to the file
named by $BENCH_TABLE (tab-separated: figure, rag, reference, ratio); `python3 scripts/benchtable.py
FILE` prints them. Ratio > 1 means rag is better (faster, or smaller where lower is better)."""
import math
import os
import sys


def row(figure, rag, reference=None, higher_is_better=True):
    """Appends one figure; `reference` None when no reference implementation measures it."""
    path = os.environ.get("BENCH_TABLE")
    if not path:
        return
    if reference:
        ratio = f"{(rag / reference if higher_is_better else reference / rag):.2f}x"
        ref = f"{reference:.1f}"
    else:
        ratio, ref = "—", "—"
    with open(path, "a") as f:
        f.write(f"{figure}\t{rag:.1f}\t{ref}\t{ratio}\n")


def qps_at(curve, recall, recall_key="recall"):
    """A reference's queries/s at a given recall, interpolated (log QPS, linear recall) on its
    own recall curve: a list of {recall_key: …, "qps": …}."""
    pts = sorted((p[recall_key], p["qps"]) for p in curve)
    if recall <= pts[0][0]: return pts[0][1]
    if recall >= pts[-1][0]: return pts[-1][1]
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= recall <= r1:
            t = 0 if r1 == r0 else (recall - r0) / (r1 - r0)
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))


def show(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
    width = max([len(r[0]) for r in rows] + [6])
    print(f"\n{'figure':{width}}  {'rag':>10}  {'reference':>10}  {'ratio':>7}")
    print("-" * (width + 33))
    for figure, rag, ref, ratio in rows:
        print(f"{figure:{width}}  {rag:>10}  {ref:>10}  {ratio:>7}")
    print("(reference: onnxruntime for embeddings, hnswlib for the index, llama.cpp for the generator, "
          "measured in the same run; ratio > 1: rag is better)")


if __name__ == "__main__":
    show(sys.argv[1])
