"""The index on disk: building, incremental updates, safe swaps, the lock, mismatches and pruning."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.errors import IndexBusyError, IndexMismatchError, StorageError
from kb.index.build import build_index, changes_on_disk, fixed_texts
from kb.index.store import BUILDS, CURRENT, FIXED, FORMAT_VERSION, current_build, index_lock, load_index
from kb.ingest.chunking import chunk_document
from kb.ingest.loaders import load_document
from kb.ingest.passage import passage_sentence_texts
from kb.models.embedders import KnownVectors, embed_key
from kb.records import CorpusChanges, Document, Manifest
from kb.retrieval.searcher import Searcher

from conftest import DOC_IDS, SLEEP_MD, write_files
from fakes import HashingEmbedder


def chunk_count(settings, rel: str) -> int:
    doc = load_document(settings.corpus / rel, settings.corpus)
    return len(chunk_document(doc, HashingEmbedder().count_tokens, settings.max_tokens, settings.overlap_sentences))


def build_folders(settings) -> list[str]:
    return sorted(p.name for p in (settings.index / BUILDS).iterdir())


def found_doc_ids(index, settings, query: str, mode: str) -> set[str]:
    hits = Searcher(index, HashingEmbedder(64), settings).search(query, k=50, mode=mode, max_per_doc=0)
    return {h.chunk.doc_id for h in hits}


class EmbedderThatDies(HashingEmbedder):
    """Fails partway through embedding, as a killed or crashing build would."""

    def embed(self, texts):
        raise KeyboardInterrupt("simulated interruption")


# A first build


def test_first_build_indexes_every_article(settings, embedder):
    report = build_index(settings, embedder)
    index = load_index(settings.index, "hashing-64", 64)
    assert set(report.added) == DOC_IDS and report.changed == [] and report.removed == []
    assert report.documents == 3 and report.failed == [] and report.skipped == []
    assert report.chunks == len(index.chunks) == report.embedded > 3
    assert set(index.documents) == DOC_IDS
    assert index.vectors.shape == (report.chunks, 64)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    assert index.dense.ntotal == report.chunks


def test_manifest_records_model_chunker_hashes_counts_and_versions(settings, embedder):
    report = build_index(settings, embedder)
    manifest = json.loads((current_build(settings.index) / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"] == {"name": "hashing-64", "dimension": 64, "normalized": True, "max_seq_length": 512}
    assert manifest["chunker"] == {"max_tokens": 256, "overlap_sentences": 1}
    sleep = manifest["documents"]["sleep-and-dreams"]
    assert sleep["path"] == "articles/sleep.md"
    assert sleep["hash"] == hashlib.sha256((settings.corpus / "articles/sleep.md").read_bytes()).hexdigest()
    assert sleep["chunks"] == chunk_count(settings, "articles/sleep.md")
    assert sum(d["chunks"] for d in manifest["documents"].values()) == report.chunks
    assert manifest["counts"] == {"documents": 3, "chunks": report.chunks}
    assert manifest["built_at"].endswith("Z")
    assert manifest["versions"]["kb"] and manifest["versions"]["python"]


def test_index_files_are_inspectable_and_never_pickled(settings, embedder):
    build_index(settings, embedder)
    folder = current_build(settings.index)
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"manifest.json", "documents.jsonl", "chunks.jsonl", "dense.faiss"} <= names
    assert "vectors.npy" not in names  # each vector is stored once, in dense.faiss
    assert any(n.startswith("bm25/") for n in names)
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    rows = [json.loads(line) for line in (folder / "chunks.jsonl").read_text().splitlines()]
    assert {"id", "doc_id", "text", "section", "start", "end", "page", "embed_key"} <= set(rows[0])


def test_data_files_in_the_corpus_are_not_indexed(settings, embedder):
    (settings.corpus / "therapists.yaml").write_text("therapists: []\n")
    report = build_index(settings, embedder)
    assert report.skipped == [] and report.failed == []


# Incremental updates


def test_nothing_changed_embeds_nothing(settings, embedder):
    build_index(settings, embedder)
    before = load_index(settings.index).vectors
    again = HashingEmbedder(64)
    report = build_index(settings, again)
    assert report.embedded == 0 and again.calls == []
    assert report.added == report.changed == report.removed == []
    assert np.array_equal(load_index(settings.index).vectors, before)


def test_editing_a_title_re_embeds_exactly_that_documents_chunks(settings, embedder):
    build_index(settings, embedder)
    path = settings.corpus / "articles/sleep.md"
    path.write_text(SLEEP_MD.replace("title: Sleep and dreams", "title: Sleep, rest and dreams"))
    report = build_index(settings, HashingEmbedder(64))
    assert report.changed == ["sleep-and-dreams"] and report.added == [] and report.removed == []
    assert report.embedded == chunk_count(settings, "articles/sleep.md")
    index = load_index(settings.index)
    assert index.documents["sleep-and-dreams"].title == "Sleep, rest and dreams"


def test_editing_one_paragraph_re_embeds_only_the_chunks_that_contain_it(settings, embedder):
    build_index(settings, embedder)
    path = settings.corpus / "articles/sleep.md"
    path.write_text(SLEEP_MD.replace("Keep a regular bedtime and wake time.", "Keep a steady bedtime and wake time."))
    report = build_index(settings, HashingEmbedder(64))
    assert report.changed == ["sleep-and-dreams"]
    assert 1 <= report.embedded < chunk_count(settings, "articles/sleep.md")
    index = load_index(settings.index)
    assert any("steady bedtime" in c.text for c in index.chunks)
    assert not any("regular bedtime" in c.text for c in index.chunks)


def test_a_new_document_is_added_and_only_its_chunks_embedded(settings, embedder):
    build_index(settings, embedder)
    (settings.corpus / "articles/grief.md").write_text("# Grief\n\nGrief comes in waves. It softens with time.\n")
    report = build_index(settings, HashingEmbedder(64))
    assert report.added == ["articles/grief"]
    assert report.embedded == chunk_count(settings, "articles/grief.md") == 1
    assert report.documents == 4


def test_a_deleted_document_vanishes_from_dense_and_bm25_results(settings, embedder):
    build_index(settings, embedder)
    index = load_index(settings.index)
    assert "sleep-and-dreams" in found_doc_ids(index, settings, "nightmare dreams bedtime", "bm25")
    assert "sleep-and-dreams" in found_doc_ids(index, settings, "nightmare dreams bedtime", "dense")
    (settings.corpus / "articles/sleep.md").unlink()
    report = build_index(settings, HashingEmbedder(64))
    assert report.removed == ["sleep-and-dreams"] and report.embedded == 0
    index = load_index(settings.index)
    assert "sleep-and-dreams" not in index.documents
    assert all(c.doc_id != "sleep-and-dreams" for c in index.chunks)
    for mode in ("bm25", "dense", "hybrid"):
        assert "sleep-and-dreams" not in found_doc_ids(index, settings, "nightmare dreams bedtime", mode)
    assert found_doc_ids(index, settings, "nightmare dreams bedtime", "dense")  # the others are still there


def test_full_rebuild_embeds_everything(settings, embedder):
    first = build_index(settings, embedder)
    again = HashingEmbedder(64)
    report = build_index(settings, again, full=True)
    assert report.embedded == first.chunks
    sentences = passage_sentence_texts(load_index(settings.index).chunks)
    # chunks, then topics and the passages' sentences (what answers rank)
    assert sum(again.calls) == first.chunks + len(dict.fromkeys(fixed_texts(settings) + sentences))
    assert set(report.added) == DOC_IDS


def test_changing_the_model_re_embeds_everything(settings, embedder):
    first = build_index(settings, embedder)
    other = settings.replace(model="hashing-32")
    report = build_index(other, HashingEmbedder(32))
    assert report.embedded == first.chunks
    assert load_index(settings.index, "hashing-32", 32).vectors.shape[1] == 32


def test_progress_is_reported_up_to_the_total(settings, embedder):
    seen = []
    report = build_index(
        settings.replace(batch_size=1), embedder, progress=lambda done, total: seen.append((done, total))
    )
    assert seen[0] == (0, report.embedded)  # reported before the first batch, so a bar's clock starts then
    assert seen[-1] == (report.embedded, report.embedded)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    build_index(settings, embedder, progress=lambda done, total: seen.append((done, total)))
    assert seen == []  # nothing to embed, nothing reported


def test_the_manifest_record_reads_and_writes_the_same_json(settings, embedder):
    build_index(settings, embedder)
    on_disk = json.loads((current_build(settings.index) / "manifest.json").read_text())
    manifest = Manifest.from_json(on_disk)
    assert manifest.to_json() == on_disk and list(manifest.to_json()) == list(on_disk)  # same keys, same order
    assert manifest.documents["sleep-and-dreams"].path == "articles/sleep.md"
    with pytest.raises(ValueError, match="wrong shape"):
        Manifest.from_json({**on_disk, "files": {"dense.faiss": "not a digest"}})


def test_documents_jsonl_stores_only_the_metadata_given_and_reads_older_lines(settings, embedder):
    build_index(settings, embedder)
    lines = (current_build(settings.index) / "documents.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows and all(None not in row["metadata"].values() for row in rows)
    older = {**rows[0], "metadata": {**rows[0]["metadata"], "notes": "a field an older build kept"}}
    assert Document.from_json(older).metadata.to_json() == rows[0]["metadata"]


def test_changes_on_disk_since_the_build(settings, embedder):
    build_index(settings, embedder)
    assert changes_on_disk(settings) == CorpusChanges()
    (settings.corpus / "articles/sleep.md").write_text(SLEEP_MD + "\nOne more line.\n")
    (settings.corpus / "articles/anger.md").unlink()
    (settings.corpus / "new.txt").write_text("A new plain text note.")
    assert changes_on_disk(settings) == CorpusChanges(
        added=["new.txt"], changed=["articles/sleep.md"], removed=["articles/anger.md"]
    )


# Bad files


def test_bad_files_fail_and_the_rest_still_indexes(settings, embedder, bad_files):
    write_files(settings.corpus, bad_files)
    report = build_index(settings, embedder)
    assert {f.path for f in report.failed} == set(bad_files)
    assert report.documents == 3 and report.kept == []
    assert set(load_index(settings.index).documents) == DOC_IDS


def test_a_file_that_turns_bad_keeps_its_previous_version(settings, embedder):
    build_index(settings, embedder)
    before = [c for c in load_index(settings.index).chunks if c.doc_id == "sleep-and-dreams"]
    (settings.corpus / "articles/sleep.md").write_text("---\ntitle: [broken\n---\n# Sleep\n\nNew text.\n")
    report = build_index(settings, HashingEmbedder(64))
    assert [f.path for f in report.failed] == ["articles/sleep.md"]
    assert report.kept == ["articles/sleep.md"]
    assert report.removed == [] and report.changed == [] and report.embedded == 0
    index = load_index(settings.index)
    assert index.documents["sleep-and-dreams"].title == "Sleep and dreams"
    assert [c.id for c in index.chunks if c.doc_id == "sleep-and-dreams"] == [c.id for c in before]
    # Still bad on the next run: still kept; fixed: indexed again.
    assert build_index(settings, HashingEmbedder(64)).kept == ["articles/sleep.md"]
    (settings.corpus / "articles/sleep.md").write_text(SLEEP_MD.replace("Poor sleep", "Bad sleep"))
    report = build_index(settings, HashingEmbedder(64))
    assert report.kept == [] and report.changed == ["sleep-and-dreams"]


def test_a_corpus_with_nothing_indexable_builds_an_empty_index(settings, embedder):
    for path in settings.corpus.rglob("*.md"):
        path.write_text("")
    report = build_index(settings, embedder)
    assert report.documents == 0 and report.chunks == 0 and len(report.failed) == 3
    index = load_index(settings.index)
    assert index.chunks == [] and Searcher(index, embedder, settings).search("sleep") == []


# Safe writes


def test_an_interrupted_build_leaves_the_previous_index_live(settings, embedder):
    build_index(settings, embedder)
    live = current_build(settings.index)
    (settings.corpus / "articles/grief.md").write_text("# Grief\n\nGrief comes in waves.\n")
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, EmbedderThatDies(64))
    assert current_build(settings.index) == live
    assert set(load_index(settings.index).documents) == DOC_IDS
    report = build_index(settings, HashingEmbedder(64))
    assert report.added == ["articles/grief"] and report.embedded == 1


def test_a_failure_while_writing_removes_the_half_written_build(settings, embedder, monkeypatch):
    build_index(settings, embedder)
    live = current_build(settings.index)
    import kb.index.store

    def disk_full(self, folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(kb.index.store.BM25Index, "save", disk_full)
    with pytest.raises(StorageError, match=r"/bm25: No space left on device; free some disk space") as error:
        build_index(settings, HashingEmbedder(64), full=True)
    assert "\n" not in str(error.value)
    assert build_folders(settings) == [live.name]
    assert current_build(settings.index) == live
    assert load_index(settings.index).manifest.document_count == 3


def test_leftovers_of_a_killed_build_are_ignored_then_pruned(settings, embedder):
    build_index(settings, embedder)
    live = current_build(settings.index)
    partial = settings.index / BUILDS / "b-99991231T235959999999-1"  # newer than live, never published
    partial.mkdir()
    (partial / "chunks.jsonl").write_text('{"half": ')
    (settings.index / f"{CURRENT}.tmp").write_text(partial.name)
    assert load_index(settings.index).folder == live
    build_index(settings, HashingEmbedder(64))
    assert not partial.exists()
    assert current_build(settings.index) != live


def test_old_builds_are_pruned_to_the_live_one_and_its_predecessor(settings, embedder):
    names = []
    for n in range(3):
        (settings.corpus / "note.txt").write_text(f"Build number {n}.")
        build_index(settings, embedder)
        names.append(current_build(settings.index).name)
    assert len(set(names)) == 3
    assert build_folders(settings) == names[1:]
    assert (settings.index / CURRENT).read_text().strip() == names[2]


# The lock


def test_a_second_build_stops_while_the_lock_is_held(settings, embedder):
    with index_lock(settings.index), pytest.raises(IndexBusyError, match="another 'kb index'"):
        build_index(settings, embedder)
    assert current_build(settings.index) is None
    assert build_index(settings, embedder).documents == 3  # released: the next build runs


def test_the_lock_is_released_when_a_build_fails(settings):
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, EmbedderThatDies(64))
    with index_lock(settings.index):
        pass


# Loading and mismatches


def test_loading_without_an_index_says_to_build_one(tmp_path):
    with pytest.raises(IndexMismatchError, match="run 'kb index'"):
        load_index(tmp_path / "index")


@pytest.mark.parametrize(
    "model, dimension, words",
    [
        ("hashing-32", None, "model 'hashing-64'"),
        ("hashing-64", 384, "dimension 64"),
    ],
)
def test_an_index_for_another_model_is_refused(settings, embedder, model, dimension, words):
    build_index(settings, embedder)
    with pytest.raises(IndexMismatchError, match="kb index --full") as error:
        load_index(settings.index, model, dimension)
    assert words in str(error.value)


def test_an_index_in_another_format_is_refused(settings, embedder):
    build_index(settings, embedder)
    path = current_build(settings.index) / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(IndexMismatchError, match="kb index --full"):
        load_index(settings.index, "hashing-64", 64)


def test_a_damaged_index_is_refused_with_the_fix(settings, embedder):
    build_index(settings, embedder)
    (current_build(settings.index) / "dense.faiss").write_bytes(b"not faiss")
    with pytest.raises(IndexMismatchError, match=r"dense.faiss is 9 bytes.*run 'kb index' to rebuild it"):
        load_index(settings.index)


def test_a_format_2_build_still_loads_and_its_vectors_are_reused(settings, embedder):
    report = build_index(settings, embedder)
    folder = current_build(settings.index)
    vectors = load_index(settings.index).vectors
    np.save(folder / "vectors.npy", vectors, allow_pickle=False)  # what format 2 wrote beside dense.faiss
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    assert np.array_equal(load_index(settings.index, "hashing-64", 64).vectors, vectors)
    again = HashingEmbedder(64)
    assert build_index(settings, again).embedded == 0 and report.embedded > 0
    assert json.loads((current_build(settings.index) / "manifest.json").read_text())["format_version"] == FORMAT_VERSION


# Vectors of texts besides chunks (topics, therapist profiles), stored so a fresh process
# answers its first question without embedding them.

SHIPPED = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture
def with_directory(settings):
    for name in ("topics.yaml", "therapists.yaml"):
        shutil.copy(SHIPPED / name, settings.corpus / name)
    return settings


def test_the_build_stores_vectors_of_topics_and_profiles(with_directory, embedder):
    from kb.directory.therapists import load_directory
    from kb.ingest.topics import load_topics, topic_text

    build_index(with_directory, embedder)
    index = load_index(with_directory.index)
    topics = load_topics(with_directory.topics_path)
    profiles = [t.profile_text() for t in load_directory(with_directory.therapists_path).therapists]
    texts = [topic_text(t) for t in topics] + profiles
    assert len(topics) > 20 and len(profiles) > 20
    texts += passage_sentence_texts(index.chunks)  # answers rank these against the question
    assert set(index.fixed) == {embed_key(embedder.name, t) for t in texts}
    for text in (texts[0], topic_text(topics[3]), profiles[-1]):
        assert np.allclose(index.fixed[embed_key(embedder.name, text)], embedder.embed([text])[0])


def test_stored_vectors_are_used_and_only_unknown_texts_embedded(with_directory, embedder):
    build_index(with_directory, embedder)
    index = load_index(with_directory.index)
    fresh = HashingEmbedder(64)
    known = KnownVectors(fresh, index.fixed)
    texts = fixed_texts(with_directory)
    assert np.allclose(known.embed(texts), embedder.embed(texts)) and fresh.calls == []
    out = known.embed([texts[0], "a question nobody stored", texts[1]])
    assert fresh.calls == [1]
    assert np.allclose(out, embedder.embed([texts[0], "a question nobody stored", texts[1]]))


def test_a_changed_profile_is_the_only_fixed_text_embedded_again(with_directory, embedder):
    build_index(with_directory, embedder)
    path = with_directory.therapists_path
    text = path.read_text(encoding="utf-8").replace("bio: >-\n      ", "bio: >-\n      Newly updated. ", 1)
    path.write_text(text, encoding="utf-8")
    again = HashingEmbedder(64)
    report = build_index(with_directory, again)
    assert report.embedded == 0 and again.calls == [1]


def test_a_broken_directory_does_not_stop_the_build_and_leaves_its_profiles_out(with_directory, embedder):
    with_directory.therapists_path.write_text("therapists: [{id: x}]\n", encoding="utf-8")
    report = build_index(with_directory, embedder)
    assert report.chunks > 0
    index = load_index(with_directory.index)
    expected = dict.fromkeys(fixed_texts(with_directory) + passage_sentence_texts(index.chunks))
    assert len(index.fixed) == len(expected) > 0


def test_an_index_without_stored_vectors_still_loads(settings, embedder):
    build_index(settings, embedder)
    (current_build(settings.index) / FIXED).write_bytes(b"damaged")
    index = load_index(settings.index)
    assert index.fixed == {} and len(index.chunks) > 0
