"""`kb bench scale`: search latency, recall, memory and build time on synthetic indexes of 10k to 1M chunks.

A synthetic index repeats the shipped chunks: replica j of chunk b keeps b's vector plus Gaussian noise
(renormalized; cosine about 0.82 to the original) and b's words with a fifth of them dropped and a few
corpus words added (their order turned, for display). Documents are replicated with their topics and audience,
so filters and the per-document limit behave as on the real corpus. Nothing is embedded but the
questions. Each size runs in a fresh process, so its memory is its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from kb.config import Settings, load_settings
from kb.evaluation.bench import QUESTIONS
from kb.evaluation.golden import load_golden
from kb.index.store import Index, load_index
from kb.models.embedders import PLUGIN_VARIABLE, load_embedder, load_plugins
from kb.records import Chunk, Document
from kb.retrieval.bm25 import BM25Index, tokenize
from kb.retrieval.dense import build_dense_index
from kb.retrieval.searcher import Searcher

NOISE = 0.035  # per dimension; cosine to the source vector about 0.82
DROP = 0.2  # share of a chunk's words left out of each replica
EXTRA_WORDS = 3
K1, B = 1.5, 0.75  # bm25s's defaults (method "lucene")
REPO = Path(__file__).resolve().parents[2]


class SyntheticChunks(Sequence[Chunk]):
    """Chunk i is replica i // n of base chunk i % n; made when read, so a million cost no memory."""

    def __init__(self, base: list[Chunk], size: int, seed: int = 0):
        self.base, self.size, self.seed = base, size, seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.size))]
        if not -self.size <= i < self.size:
            raise IndexError(i)
        i %= self.size
        replica, chunk = divmod(i, len(self.base))
        source = self.base[chunk]
        if replica == 0:
            return source
        # The words turned by a place of their own, not shuffled: a seeded generator per chunk took 56 µs,
        # which `kb bench scale` charged to search for every hit (a real index's chunks are a list).
        words = source.text.split()
        turn = (replica * 7_919 + self.seed + chunk) % max(1, len(words))
        return dataclasses.replace(
            source,
            id=f"{source.id}~{replica}",
            doc_id=f"{source.doc_id}~{replica}",
            text=" ".join(words[turn:] + words[:turn]),
        )

    @property
    def doc_ids(self):
        """The document id of every chunk, without making the chunks."""
        n = len(self.base)
        return (self.base[i % n].doc_id if i < n else f"{self.base[i % n].doc_id}~{i // n}" for i in range(self.size))


def synthetic_documents(base: dict[str, Document], replicas: int) -> dict[str, Document]:
    docs = dict(base)
    for replica in range(1, replicas):
        for doc in base.values():
            docs[f"{doc.id}~{replica}"] = dataclasses.replace(doc, id=f"{doc.id}~{replica}")
    return docs


def synthetic_vectors(base: np.ndarray | None, size: int, rng: np.random.Generator, block: int = 65_536) -> np.ndarray:
    if base is None:
        raise ValueError("the base index has no vectors of its own: build it with kb index")
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, block):
        rows = np.arange(start, min(size, start + block))
        v = base[rows % len(base)] + rng.normal(0.0, NOISE, (len(rows), base.shape[1])).astype(np.float32)
        v[rows < len(base)] = base[rows[rows < len(base)]]  # the first replica is the real corpus
        out[rows] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def synthetic_bm25(texts: list[str], size: int, rng: np.random.Generator) -> BM25Index:
    """BM25 weights of the replicas, computed with bm25s's formula into bm25s's own matrix layout.

    bm25s's indexer walks every token in Python, minutes at a million chunks; the weights here are
    the same formula (lucene idf, k1 1.5, b 0.75) vectorized, checked against bm25s in the tests.
    """
    import bm25s

    vocab: dict[str, int] = {}
    base_terms, base_counts = [], []
    for text in texts:
        words = tokenize(text) or [""]
        ids = np.array([vocab.setdefault(w, len(vocab)) for w in words], dtype=np.int64)
        terms, counts = np.unique(ids, return_counts=True)
        base_terms.append(terms)
        base_counts.append(counts)
    n = len(texts)
    frequency = np.bincount(np.concatenate(base_terms), weights=np.concatenate(base_counts), minlength=len(vocab))
    frequency = frequency / frequency.sum()
    offsets = np.cumsum([0] + [len(t) for t in base_terms])
    flat_terms, flat_counts = np.concatenate(base_terms), np.concatenate(base_counts)
    rows = np.arange(size) % n
    lengths = offsets[rows + 1] - offsets[rows]
    owner = np.repeat(np.arange(size, dtype=np.int32), lengths)  # int32 and dels: 1M chunks is ~65M postings
    source = np.repeat(offsets[rows] - (np.cumsum(lengths) - lengths), lengths) + np.arange(len(owner))
    del rows, lengths
    terms, counts = flat_terms[source].astype(np.int32), flat_counts[source].astype(np.int32)
    del source
    replica = owner >= n
    counts[replica] = rng.binomial(counts[replica], 1.0 - DROP)
    del replica
    extra_owner = np.repeat(np.arange(n, size, dtype=np.int32), EXTRA_WORDS)
    extra_terms = rng.choice(len(vocab), size=len(extra_owner), p=frequency).astype(np.int32)
    owner = np.concatenate([owner, extra_owner])
    terms = np.concatenate([terms, extra_terms])
    counts = np.concatenate([counts, np.ones(len(extra_owner), dtype=np.int32)])
    del extra_owner, extra_terms
    keep = counts > 0
    key = terms[keep].astype(np.int64) * size + owner[keep]  # merge a word added twice to one chunk
    counts = counts[keep]
    del owner, terms, keep
    order = np.argsort(key, kind="stable")
    key, counts = key[order], counts[order]
    del order
    first = np.concatenate([[True], key[1:] != key[:-1]])
    tf = np.add.reduceat(counts.astype(np.float32), np.flatnonzero(first))
    key = key[first]
    del counts, first
    terms, owner = (key // size).astype(np.int32), (key % size).astype(np.int32)
    del key
    length = np.bincount(owner, weights=tf, minlength=size)
    df = np.bincount(terms, minlength=len(vocab))
    idf = np.log(1 + (size - df + 0.5) / (df + 0.5))
    weight = (idf[terms] * tf / (K1 * ((1 - B) + B * length[owner] / length.mean()) + tf)).astype(np.float32)
    del tf, terms
    retriever = bm25s.BM25()
    retriever.scores = {
        "data": weight,
        "indices": owner,
        "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
        "num_docs": size,
    }
    retriever.vocab_dict = vocab
    retriever.nonoccurrence_array = None  # the lucene method has none
    return BM25Index(retriever)


def synthetic_index(base: Index, size: int, seed: int = 0) -> Index:
    """An index of `size` chunks made from the base index (see the module docstring)."""
    rng = np.random.default_rng(seed)
    replicas = math.ceil(size / len(base.chunks))
    vectors = synthetic_vectors(base.vectors, size, rng)
    dense = build_dense_index(vectors, vectors.shape[1])
    del vectors  # the FAISS index holds its own copy; the searcher reads that one
    bm25 = synthetic_bm25([c.embed_text or c.text for c in base.chunks], size, rng)
    manifest = dataclasses.replace(base.manifest, document_count=len(base.documents) * replicas, chunk_count=size)
    chunks = cast("list[Chunk]", SyntheticChunks(base.chunks, size, seed))  # a list's reading side, made on demand
    return Index(base.folder, manifest, synthetic_documents(base.documents, replicas), chunks, None, dense, bm25)


def bench_questions(limit: int = 100) -> list[str]:
    path = REPO / "tests" / "eval" / "questions.yaml"
    questions = list(QUESTIONS)
    if path.is_file():
        questions += [i.question for i in load_golden(path) if i.kind != "crisis"]
    return list(dict.fromkeys(questions))[:limit]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_size(settings: Settings, size: int, queries: int = 100, exact_queries: int = 30) -> dict[str, Any]:
    """Build one synthetic index and time hybrid search on it beside its floors (run in a fresh process)."""
    import faiss

    faiss.omp_set_num_threads(1)  # one question at a time: threads only add hand-offs (measured)
    embedder = load_embedder(settings)
    base = load_index(settings.index)
    questions = bench_questions(queries)
    vectors = embedder.embed(questions)
    encoder = []
    for question in questions[:30]:
        started = time.perf_counter()
        embedder.embed([question])
        encoder.append(time.perf_counter() - started)
    before = rss_mb()
    started = time.perf_counter()
    index = synthetic_index(base, size)
    searcher = Searcher(index, embedder, settings)
    index.bm25.prepare()
    build_seconds = time.perf_counter() - started
    memory = rss_mb() - before
    for question, vector in zip(questions[:5], vectors, strict=False):
        searcher.search(question, k=10, vector=vector)  # warm caches, as a server would be
    latency, filtered = [], []
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        searcher.search(question, k=10, vector=vector)
        latency.append(time.perf_counter() - started)
    topics = sorted({t for d in base.documents.values() for t in d.topics})
    for n, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
        started = time.perf_counter()
        searcher.search(question, k=10, vector=vector, topics=[topics[n % len(topics)]])
        filtered.append(time.perf_counter() - started)
    # The floor: exact search, every chunk scored, over a flat copy of the same vectors (made after the
    # memory was measured; the same seed gives the same vectors).
    flat = synthetic_vectors(base.vectors, size, np.random.default_rng(0))
    exact, recall = [], []
    everything = searcher.mask()
    for question, vector in list(zip(questions, vectors, strict=True))[:exact_queries]:
        started = time.perf_counter()
        dense, bm25 = flat @ vector, index.bm25.scores(question, size)
        truth = searcher.rank(dense, bm25, 10, "hybrid", everything)
        exact.append(time.perf_counter() - started)
        found = {h.chunk.id for h in searcher.search(question, k=10, vector=vector)}
        recall.append(len(found & {h.chunk.id for h in truth}) / len(truth) if truth else float(not found))
    ms = 1000.0
    return {
        "chunks": size,
        "dense_index": type(index.dense).__name__,
        "queries": len(latency),
        "search_p50_ms": round(percentile(latency, 0.5) * ms, 2),
        "search_p95_ms": round(percentile(latency, 0.95) * ms, 2),
        "filtered_search_p95_ms": round(percentile(filtered, 0.95) * ms, 2),
        "exact_search_p50_ms": round(percentile(exact, 0.5) * ms, 2),
        "exact_search_p95_ms": round(percentile(exact, 0.95) * ms, 2),
        "encoder_one_query_p50_ms": round(statistics.median(encoder) * ms, 2),
        "recall_at_10_vs_exact": round(statistics.mean(recall), 4),
        "memory_mb": round(memory, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "build_seconds": round(build_seconds, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }


def bench_scale(settings: Settings, sizes: list[int], out: Path, timeout: float = 3600.0) -> dict[str, Any]:
    """Each size in its own process (so memory is per size); JSON and a plot written to out/."""
    results = []
    for size in sizes:
        command = [
            sys.executable,
            "-m",
            "kb.evaluation.scale",
            str(size),
            "--corpus",
            str(settings.corpus),
            "--index",
            str(settings.index),
            "--model",
            settings.model,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            results.append({"chunks": size, "error": lines[-1]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {"cpus": os.cpu_count(), "sizes": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    plot_scale(results, out / "scale.png")
    return report


def scale_lines(report: dict[str, Any]) -> list[str]:
    """One line per size, each figure beside its floors measured in the same run."""
    lines = []
    for r in report["sizes"]:
        if "error" in r:
            lines.append(f"{r['chunks']:>9,} chunks: failed ({r['error']})")
            continue
        lines.append(
            f"{r['chunks']:>9,} chunks ({r['dense_index']}): hybrid search p50 {r['search_p50_ms']} ms, "
            f"p95 {r['search_p95_ms']} ms (filtered p95 {r['filtered_search_p95_ms']} ms) | floors: exact "
            f"search p95 {r['exact_search_p95_ms']} ms, encoder for one question "
            f"{r['encoder_one_query_p50_ms']} "
            f"ms | recall@10 vs exact {r['recall_at_10_vs_exact']} | memory {r['memory_mb']} MB | build "
            f"{r['build_seconds']} s | load average {r['load_average']}"
        )
    return lines


def plot_scale(results: list[dict[str, Any]], path: Path) -> None:
    """Latency beside its floors, and recall, against the number of chunks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if "error" not in r]
    if not rows:
        return
    x = [r["chunks"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(x, [r["search_p95_ms"] for r in rows], "o-", label="hybrid search p95")
    left.plot(x, [r["search_p50_ms"] for r in rows], "o--", label="hybrid search p50")
    left.plot(x, [r["exact_search_p95_ms"] for r in rows], "s-", label="exact search (every chunk scored) p95")
    left.plot(x, [r["encoder_one_query_p50_ms"] for r in rows], ":", label="encoder, one question (floor)")
    left.set(xscale="log", yscale="log", xlabel="chunks", ylabel="milliseconds", title="Search latency, 2 CPU cores")
    left.legend(fontsize=8)
    right.plot(x, [r["recall_at_10_vs_exact"] for r in rows], "o-")
    right.set(xscale="log", ylim=(0.8, 1.01), xlabel="chunks", ylabel="recall@10 vs exact fusion", title="Recall")
    for r in rows:
        right.annotate(
            f"{r['memory_mb'] / 1024:.2f} GB",
            (r["chunks"], r["recall_at_10_vs_exact"]),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=8,
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> None:
    """python -m kb.evaluation.scale SIZE [--corpus C] [--index I] [--model M]: one size, one JSON line."""
    size = int(argv[0])
    flags = dict(zip(argv[1::2], argv[2::2], strict=False))
    settings = load_settings(
        {"corpus": flags.get("--corpus"), "index": flags.get("--index"), "model": flags.get("--model")}
    )
    print(json.dumps(bench_size(settings, size)))


if __name__ == "__main__":
    load_plugins(os.environ.get(PLUGIN_VARIABLE, ""))  # a front end of its own: embedders registered outside kb
    main(sys.argv[1:])
