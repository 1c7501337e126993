"""The knowledge base as one object: settings, model, index and the services built on them."""

from __future__ import annotations

from functools import cached_property

from .config import Settings
from .embed import Embedder, load_embedder
from .records import Hit
from .search import Searcher, load_reranker
from .store import Index, load_index


class KnowledgeBase:
    """Loads the model and the index once; the CLI and the app call only this."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self._embedder = embedder

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or load_embedder(self.settings)

    @cached_property
    def index(self) -> Index:
        return load_index(self.settings.index, self.embedder.name, self.embedder.dimension)

    @cached_property
    def searcher(self) -> Searcher:
        reranker = load_reranker(self.settings.reranker) if self.settings.reranker else None
        return Searcher(self.index, self.embedder, self.settings, reranker)

    def search(self, query: str, k: int = 10, mode: str = "hybrid", topics: list[str] | None = None,
               audience: str | None = None) -> list[Hit]:
        """Ranked passages for a query."""
        return self.searcher.search(query, k=k, mode=mode, topics=topics, audience=audience)
