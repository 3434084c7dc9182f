"""Stock stills for a video: search queries from the script's visual cues and topic, then enough distinct
items for the render, broadening to the topic when a query finds too little. Pure functions over
StockMediaSearch."""

from __future__ import annotations

import math
import re

from shared.content.script import keywords
from shared.ports import MediaItem, StockMediaSearch

# Words that describe the shot rather than what is in it; stock search does better without them.
_SHOT_WORD_TEXT = """
close-up closeup close shot shots footage b-roll broll animation animated graphic graphics text overlay
on-screen screen montage clip clips scene scenes image images video videos showing show shows view wide
aerial slow motion split cut quick fast zoom pan cinematic visual visuals title card caption captions
diagram chart infographic button end action detail details
"""
_SHOT_WORDS = frozenset(_SHOT_WORD_TEXT.split())
# Cues for overlays (subscribe button, end screen, on-screen text) need no stock footage.
_OVERLAY_CUE = re.compile(
    r"\b(?:subscribe|end\s+screen|logo|notification|like\s+button|channel|animated\s+text|text\s+overlay|"
    r"on-?\s*screen\s+text|title\s+card|lower\s+third|captions?)\b",
    re.IGNORECASE,
)
_CUE_QUERY_WORDS = 3
_TOPIC_QUERY_WORDS = 4


def _query_from(text: str, max_words: int) -> str:
    return " ".join([w for w in keywords(text) if w not in _SHOT_WORDS][:max_words])


def search_queries(topic: str, visual_cues: list[str], n: int) -> list[str]:
    """Up to `n` distinct short queries: the cues' subjects in script order, the topic always among them."""
    if n <= 0:
        return []
    topic_query = _query_from(topic, _TOPIC_QUERY_WORDS) or " ".join(topic.split())
    footage_cues = [c for c in visual_cues if not _OVERLAY_CUE.search(c)]
    cue_queries = [q for q in dict.fromkeys(_query_from(c, _CUE_QUERY_WORDS) for c in footage_cues) if q]
    ordered = [*cue_queries[: n - 1], topic_query, *cue_queries[n - 1 :], *keywords(topic)]
    seen: dict[str, str] = {}
    for query in ordered:
        if query and query.lower() not in seen:
            seen[query.lower()] = query
    return list(seen.values())[:n]


def gather_stills(
    queries: list[str],
    *,
    search: StockMediaSearch,
    count: int,
    topic: str = "",
    min_results: int = 5,
) -> list[MediaItem]:
    """Up to `count` distinct photos, taken round-robin over the queries so the video follows the script.

    A query with fewer than `min_results` hits is broadened with the topic; when all queries together
    are still short of `count`, the topic's own results fill in. Fewer than `count` items come back only
    when the provider has no more to give.
    """
    if count <= 0:
        return []
    queries = [q for q in dict.fromkeys(" ".join(q.split()) for q in queries) if q][:count]
    topic = " ".join(topic.split())
    if not queries:
        if not topic:
            raise ValueError("gather_stills needs at least one query or a topic")
        queries = [topic]
    per_query = max(min_results, math.ceil(count / len(queries)))
    searched: dict[str, list[MediaItem]] = {}

    def run(query: str) -> list[MediaItem]:
        if query.lower() not in searched:
            searched[query.lower()] = search.search(query, count=per_query, kind="photo")
        return searched[query.lower()]

    pools: list[list[MediaItem]] = []
    for query in queries:
        found = run(query)
        if len(found) < min_results and topic and query.lower() != topic.lower():
            found = found + run(topic)
        pools.append(found)

    chosen: list[MediaItem] = []
    seen: set[tuple[str, str]] = set()
    cursors = [0] * len(pools)
    while len(chosen) < count:
        progressed = False
        for i, pool in enumerate(pools):
            while cursors[i] < len(pool) and len(chosen) < count:
                item = pool[cursors[i]]
                cursors[i] += 1
                if (item.provider, item.item_id) not in seen:
                    seen.add((item.provider, item.item_id))
                    chosen.append(item)
                    progressed = True
                    break
        if not progressed:
            if topic and topic.lower() not in searched:
                pools.append(run(topic))
                cursors.append(0)
                continue
            break
    return chosen
