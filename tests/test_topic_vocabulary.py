"""One topic vocabulary: loaded once with its ids and labels, and every page reads labels from it."""

from __future__ import annotations

from kb.ingest.topics import Topic, TopicVocabulary
from kb.knowledge_base import KnowledgeBase


def test_the_vocabulary_keeps_file_order_ids_and_labels(corpus):
    vocabulary = TopicVocabulary.load(corpus / "topics.yaml")
    assert [t.id for t in vocabulary] == ["transference-and-relationship", "sleep", "anger"]
    assert vocabulary.labels["sleep"] == "Sleep" and "anger" in vocabulary.ids
    assert vocabulary.label("grief-and-loss") == "grief and loss"  # an id the file lacks reads as words
    assert isinstance(vocabulary[0], Topic) and len(vocabulary[1:]) == 2


def test_no_topics_file_is_an_empty_vocabulary(tmp_path):
    vocabulary = TopicVocabulary.load(tmp_path / "topics.yaml")
    assert len(vocabulary) == 0 and not vocabulary and vocabulary.labels == {}


def test_the_knowledge_base_loads_it_once(settings, embedder):
    kb = KnowledgeBase(settings, embedder)
    assert kb.topics is kb.topics and kb.topic_labels is kb.topics.labels
