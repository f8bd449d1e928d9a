"""Your documents: loaders, structure-following chunking, incremental indexing into sqlite-vec + FTS5,
hybrid retrieval (reciprocal-rank fusion), numbered sources with citations, and folder watching.

The one door for the rest of edgeprompt is `Retriever.search(query, k, filters) -> list[Hit]`
(`edgeprompt.rag.retrieve`); indexing goes through `Indexer` (`edgeprompt.rag.index`). Nothing here is
imported by `import edgeprompt`.
"""
