"""The multi-level cache: exact and semantic answers (with a content gate), context embeddings, prefix KV.

`Runtime.cache()` builds one `Cache`; the pipeline calls `lookup` before generation and `store` after
output validation.
"""

from edgeprompt.cache.cache import Cache, Lookup, Stored
from edgeprompt.cache.keys import CacheQuery, SourceRef, build_query

__all__ = ["Cache", "CacheQuery", "Lookup", "SourceRef", "Stored", "build_query"]
