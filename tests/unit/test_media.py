"""Media domain: queries from cues and topic, and gathering distinct stills with broadening."""

from __future__ import annotations

import pytest

from shared.content import media as M
from shared.ports import MediaItem


class FakeStock:
    """A catalogue of photo ids per query; records searches."""

    name = "fake"

    def __init__(self, catalogue: dict[str, list[str]]) -> None:
        self.catalogue = catalogue
        self.searches: list[tuple[str, int]] = []

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        assert kind == "photo"
        self.searches.append((query, count))
        ids = self.catalogue.get(query, [])[:count]
        return [MediaItem("fake", i, f"http://media/{i}.jpg", 1280, 720) for i in ids]

    def download(self, item: MediaItem) -> bytes:
        return item.item_id.encode()


def ids(items: list[MediaItem]) -> list[str]:
    return [i.item_id for i in items]


# --- queries ---------------------------------------------------------------------------------------------
def test_queries_follow_the_cues_without_shot_words_and_include_the_topic() -> None:
    cues = [
        "close-up of a steaming coffee cup",
        "b-roll of a barista pouring latte art",
        "subscribe button animation",  # an overlay: no stock photo needed
        "animated text: 3 tips",
        "close-up of a steaming coffee cup",  # repeated cue, one query
        "slow motion coffee beans falling",
    ]
    queries = M.search_queries("Home Coffee Brewing", cues, 8)
    assert queries[:3] == ["steaming coffee cup", "barista pouring latte", "coffee beans falling"]
    assert "home coffee brewing" in queries
    assert not any("subscribe" in q or "animated" in q for q in queries)
    assert len({q.lower() for q in queries}) == len(queries)


def test_topic_is_kept_when_cues_alone_would_fill_every_query() -> None:
    cues = [f"shot of object{i} on a table" for i in range(10)]
    queries = M.search_queries("volcano science", cues, 4)
    assert queries == ["object0 table", "object1 table", "object2 table", "volcano science"]


def test_without_cues_the_topic_and_its_words_are_the_queries() -> None:
    assert M.search_queries("deep sea creatures", [], 3) == ["deep sea creatures", "deep", "sea"]
    assert M.search_queries("anything", ["x"], 0) == []


# --- gathering -------------------------------------------------------------------------------------------
def test_stills_are_taken_round_robin_and_deduplicated() -> None:
    stock = FakeStock(
        {
            "coffee cup": ["a1", "a2", "shared", "a3", "a4", "a5"],
            "latte art": ["shared", "b1", "b2", "b3", "b4", "b5"],
        }
    )
    items = M.gather_stills(["coffee cup", "latte art"], search=stock, count=6, min_results=5)
    assert ids(items) == ["a1", "shared", "a2", "b1", "a3", "b2"]
    assert stock.searches == [("coffee cup", 5), ("latte art", 5)]  # one search per query, enough each


def test_a_thin_query_is_broadened_with_the_topic() -> None:
    stock = FakeStock({"rare thing": ["r1"], "coffee": ["t1", "t2", "t3", "t4", "t5", "t6"]})
    items = M.gather_stills(["rare thing"], search=stock, count=4, topic="coffee", min_results=5)
    assert ids(items) == ["r1", "t1", "t2", "t3"]
    assert [q for q, _ in stock.searches] == ["rare thing", "coffee"]


def test_the_topic_fills_in_when_all_queries_together_are_short() -> None:
    stock = FakeStock(
        {
            "a": ["a1", "a2", "a3", "a4", "a5"],
            "b": ["a1", "a2", "a3", "a4", "a5"],  # the same photos again
            "topic": ["t1", "t2", "t3", "t4", "t5", "t6"],
        }
    )
    items = M.gather_stills(["a", "b"], search=stock, count=8, topic="topic", min_results=5)
    assert ids(items) == ["a1", "a2", "a3", "a4", "a5", "t1", "t2", "t3"]
    assert len(set(ids(items))) == 8


def test_fewer_items_only_when_the_provider_has_no_more() -> None:
    stock = FakeStock({"q": ["1", "2"], "topic": ["2", "3"]})
    items = M.gather_stills(["q", "q ", " Q"], search=stock, count=8, topic="topic", min_results=5)
    assert ids(items) == ["1", "2", "3"]
    assert [q for q, _ in stock.searches] == ["q", "topic"]  # duplicates searched once, topic once


def test_never_more_queries_searched_than_stills_needed() -> None:
    stock = FakeStock({f"q{i}": [f"{i}-{j}" for j in range(10)] for i in range(10)})
    items = M.gather_stills([f"q{i}" for i in range(10)], search=stock, count=3, min_results=5)
    assert ids(items) == ["0-0", "1-0", "2-0"]
    assert len(stock.searches) == 3


def test_edge_cases() -> None:
    stock = FakeStock({"topic": ["t1"]})
    assert M.gather_stills(["x"], search=stock, count=0) == []
    assert ids(M.gather_stills([], search=stock, count=2, topic="topic")) == ["t1"]
    with pytest.raises(ValueError):
        M.gather_stills([], search=stock, count=2)
