"""A local BM25 engine over a passage JSONL corpus (``{id, title, text}``): the offline stand-in for a
real search engine.

The index (bm25s, Snowball-stemmed, English stopwords) is built once and cached on disk under
``<cache_dir>/bm25/<corpus fingerprint>``; later runs load it in milliseconds. A turn's queries are
tokenized and scored in one call.

    backend = BM25Backend("data/corpus/wiki_mini.jsonl")
    [result] = backend.search_batch([SearchRequest(query="moby dick author", k=3)])
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock

from zerosearch.common.documents import Document, format_documents
from zerosearch.common.errors import ConfigError, DatasetError
from zerosearch.common.io import iter_jsonl
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult

__all__ = ["BM25Backend", "Passage", "read_corpus"]

log = logging.getLogger(__name__)

_INDEX_VERSION = "1"  # bump when the tokenization changes so old caches are not reused


Passage = tuple[str, str]
"""(title, text) of one corpus line; plain tuples keep large corpora small in memory."""


def read_corpus(path: Path) -> list[Passage]:
    """Read and validate a ``{id, title, text}`` JSONL corpus; a bad line raises DatasetError with its
    file and line number."""
    if not path.is_file():
        raise DatasetError(f"corpus file not found: {path}", param="corpus")
    passages: list[Passage] = []
    for number, row in iter_jsonl(path, param="corpus"):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise DatasetError(
                f"{path}, line {number}: a corpus line must be an object with a string 'text' "
                "(and 'id', 'title')",
                param="corpus",
            )
        title = row.get("title") or ""
        if not isinstance(title, str):
            raise DatasetError(f"{path}, line {number}: 'title' must be a string", param="corpus")
        passages.append((title, row["text"]))
    if not passages:
        raise DatasetError(f"{path}: the corpus holds no passages", param="corpus")
    return passages


def _fingerprint(path: Path, stemmer: str) -> str:
    # Path + size + mtime is cheap even for a 14 GB corpus; any edit of the file changes it.
    stat = path.stat()
    key = f"{_INDEX_VERSION}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{stemmer}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class BM25Backend(SearchBackend):
    """BM25 over a local corpus; ``mode`` of every result is ``real``."""

    name = "bm25"

    def __init__(
        self,
        corpus: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        stemmer: str | None = "english",
        **retry: Any,
    ) -> None:
        super().__init__(**retry)
        self.corpus_path = Path(corpus).expanduser()
        self.passages = read_corpus(self.corpus_path)
        self.stemmer_name = stemmer
        if cache_dir is None:
            from zerosearch.common.settings import get_common_settings

            cache_dir = get_common_settings().cache_dir
        self.index_dir = Path(cache_dir) / "bm25" / _fingerprint(self.corpus_path, stemmer or "none")
        self._tokenizer, self._retriever = self._load_or_build()

    def _make_tokenizer(self) -> Any:
        try:
            # Heavy dependency (PyStemmer): imported on use, so importing this module stays light.
            import Stemmer
            from bm25s.tokenization import Tokenizer
        except ImportError as exc:  # bm25s/PyStemmer come with the evaluator and trainer extras
            raise ConfigError(
                "search backend 'bm25' needs bm25s and PyStemmer: pip install 'zerosearch[evaluator]'",
                param="search",
            ) from exc
        stemmer = None
        if self.stemmer_name:
            try:
                stemmer = Stemmer.Stemmer(self.stemmer_name)
            except KeyError as exc:
                raise ConfigError(
                    f"unknown stemmer {self.stemmer_name!r}: use one of {Stemmer.algorithms()}",
                    param="stemmer",
                ) from exc
        return Tokenizer(stemmer=stemmer, stopwords="en")

    def _load_or_build(self) -> tuple[Any, Any]:
        # Heavy dependency (bm25s): imported on use, so importing this module stays light.
        import bm25s

        tokenizer = self._make_tokenizer()
        # Several processes may start at once (evaluator workers): one builds, the others wait and load.
        self.index_dir.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.index_dir) + ".lock"):
            if (self.index_dir / "params.index.json").is_file():
                retriever = bm25s.BM25.load(str(self.index_dir), show_progress=False)
                tokenizer.load_vocab(str(self.index_dir))
                tokenizer.load_stopwords(str(self.index_dir))
                log.info("loaded BM25 index of %d passages from %s", len(self.passages), self.index_dir)
                return tokenizer, retriever
            log.info("building BM25 index of %d passages (once) at %s", len(self.passages), self.index_dir)
            texts = [f"{title} {text}" for title, text in self.passages]
            tokens = tokenizer.tokenize(texts, show_progress=False, return_as="tuple")
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
            staging = self.index_dir.with_name(self.index_dir.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            retriever.save(str(staging), show_progress=False)
            tokenizer.save_vocab(str(staging))
            tokenizer.save_stopwords(str(staging))
            os.replace(staging, self.index_dir)
            return tokenizer, retriever

    def retrieve(self, queries: list[str], k: int) -> list[list[Document]]:
        """The top ``k`` passages of each query (one tokenize + one scoring call for all of them)."""
        k = min(k, len(self.passages))
        ids = self._tokenizer.tokenize(queries, update_vocab=False, show_progress=False, return_as="ids")
        found, scores = self._retriever.retrieve(ids, k=k, show_progress=False, n_threads=1)
        results = []
        for row_ids, row_scores in zip(found.tolist(), scores.tolist(), strict=True):
            # A query of only stopwords/unknown words scores 0 everywhere: return nothing, not noise.
            hits = [i for i, score in zip(row_ids, row_scores, strict=True) if score > 0]
            results.append(
                [
                    Document(rank=rank, title=self.passages[i][0], text=self.passages[i][1])
                    for rank, i in enumerate(hits, start=1)
                ]
            )
        return results

    def _result(self, request: SearchRequest, documents: list[Document]) -> SearchResult:
        return SearchResult(
            query=request.query, documents=documents, formatted=format_documents(documents), mode="real"
        )

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        """One query (the base class adds retries)."""
        [documents] = self.retrieve([request.query], request.k)
        return self._result(request, documents)

    async def search_many(self, requests: list[SearchRequest]) -> list[SearchResult]:
        """A whole turn in one scoring call (local: nothing transient to retry, so an error is a bug)."""
        if not requests:
            return []
        documents = self.retrieve([r.query for r in requests], max(r.k for r in requests))
        return [self._result(r, docs[: r.k]) for r, docs in zip(requests, documents, strict=True)]
