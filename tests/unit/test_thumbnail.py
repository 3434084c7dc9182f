"""Template thumbnails (size, format, determinism, wrapping) and caption timing from the narration."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image, ImageStat

from shared.content.render import captions_from_narration
from shared.content.thumbnail import MAX_LINES, TEXT_WIDTH_SHARE, layout_title, render_thumbnail

LONG_TITLE = (
    "How I built a fully automated YouTube channel that publishes eight videos a day with zero manual "
    "editing, and what it taught me about algorithms, retention, patience and the price of coffee"
)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_thumbnail_is_a_1280x720_jpeg():
    image = _open(render_thumbnail("10 Surprising Facts About Octopuses"))
    assert image.format == "JPEG"
    assert image.size == (1280, 720)


def test_thumbnail_honours_size_and_quality():
    small = render_thumbnail("Facts", width=640, height=360, jpeg_quality=40)
    large = render_thumbnail("Facts", width=640, height=360, jpeg_quality=95)
    assert _open(small).size == (640, 360)
    assert len(small) < len(large)


def test_same_inputs_give_the_same_bytes():
    assert render_thumbnail("Why the ocean is blue") == render_thumbnail("Why the ocean is blue")


def test_titles_get_different_gradients():
    a = ImageStat.Stat(_open(render_thumbnail("Why the ocean is blue")).crop((0, 0, 100, 100))).mean
    b = ImageStat.Stat(_open(render_thumbnail("Ten cheap dinners")).crop((0, 0, 100, 100))).mean
    assert a != b


def test_title_is_drawn_in_white_over_the_background():
    image = _open(render_thumbnail("Octopus", background=_solid((20, 60, 160)))).convert("RGB")
    centre = image.crop((440, 260, 840, 460))
    corner = image.crop((0, 0, 200, 120))
    assert max(ImageStat.Stat(centre.convert("L")).extrema[0]) > 230  # white type in the middle
    assert max(ImageStat.Stat(corner.convert("L")).extrema[0]) < 120  # darkened still in the corner


def test_background_is_cover_cropped_and_darkened():
    # A tall red still must fill the whole 16:9 frame (no bars) and come out darker than it went in.
    image = _open(render_thumbnail("", background=_solid((250, 10, 10), size=(300, 900)))).convert("RGB")
    r, g, b = ImageStat.Stat(image.crop((0, 0, 60, 60))).mean
    assert 80 < r < 200 and g < 40 and b < 40
    r, _, _ = ImageStat.Stat(image.crop((1220, 660, 1280, 720))).mean
    assert r > 80


def test_unreadable_background_is_refused():
    with pytest.raises(ValueError, match="background"):
        render_thumbnail("Title", background=b"not an image")


def test_short_title_stays_on_few_lines_in_large_type():
    layout = layout_title("Octopus facts", width=1280, height=720)
    assert layout.lines == ["Octopus facts"]
    assert layout.font_size >= 100


def test_long_title_wraps_to_at_most_three_lines_that_fit_the_frame():
    from shared.content.thumbnail import _font, _font_file

    layout = layout_title(LONG_TITLE, width=1280, height=720)
    font = _font(_font_file(None), layout.font_size)
    assert 1 < len(layout.lines) <= MAX_LINES
    assert all(font.getlength(line) <= 1280 * TEXT_WIDTH_SHARE for line in layout.lines)
    assert layout.lines[-1].endswith("\u2026")  # cut, and says so
    assert _open(render_thumbnail(LONG_TITLE)).size == (1280, 720)


def test_a_word_wider_than_the_frame_is_broken():
    from shared.content.thumbnail import _font, _font_file

    layout = layout_title("Supercalifragilisticexpialidocious" * 2, width=640, height=360)
    font = _font(_font_file(None), layout.font_size)
    assert len(layout.lines) <= MAX_LINES
    assert all(font.getlength(line) <= 640 * TEXT_WIDTH_SHARE for line in layout.lines)


def _solid(rgb: tuple[int, int, int], size: tuple[int, int] = (1920, 1080)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, "PNG")
    return out.getvalue()


# --- captions ----------------------------------------------------------------------------------------------
NARRATION = (
    "Octopuses have three hearts. Two pump blood through the gills, while the third keeps it moving "
    "through the rest of the body! They can taste with their arms, change colour in a fraction of a "
    "second, and squeeze through any gap larger than their beak. Remarkable."
)


def test_captions_follow_each_other_and_cover_the_duration():
    captions = captions_from_narration(NARRATION, 30.0)
    assert captions[0].start_s == 0.0
    assert captions[-1].end_s == 30.0
    for before, after in itertools.pairwise(captions):
        assert before.end_s == after.start_s
    assert all(c.end_s > c.start_s for c in captions)


def test_captions_keep_every_word_in_order_within_the_line_limit():
    captions = captions_from_narration(NARRATION, 30.0, max_chars=42)
    assert " ".join(c.text for c in captions) == " ".join(NARRATION.split())
    assert all(len(c.text) <= 42 for c in captions)


def test_caption_time_is_proportional_to_its_words():
    captions = captions_from_narration("one two three four. five six seven eight nine ten ok go.", 12.0)
    assert [c.text for c in captions] == ["one two three four.", "five six seven eight nine ten ok go."]
    assert captions[0].end_s == pytest.approx(4.0)
    assert captions[1].end_s == pytest.approx(12.0)


def test_a_caption_never_spans_two_sentences():
    captions = captions_from_narration("Short one. Another short one.", 4.0)
    assert [c.text for c in captions] == ["Short one.", "Another short one."]


def test_a_word_longer_than_the_limit_gets_its_own_line():
    word = "pneumonoultramicroscopicsilicovolcanoconiosis"
    captions = captions_from_narration(f"He said {word} twice", 5.0, max_chars=20)
    assert word in [c.text for c in captions]
    assert all(len(c.text) <= 20 for c in captions if c.text != word)


def test_lines_of_a_long_sentence_are_balanced():
    captions = captions_from_narration(
        "alpha beta gamma delta epsilon zeta eta theta iota kappa", 5.0, max_chars=42
    )
    lengths = [len(c.text) for c in captions]
    assert len(lengths) == 2
    assert abs(lengths[0] - lengths[1]) <= 8  # no long line followed by a two-word orphan


def test_no_captions_for_empty_narration_or_duration():
    assert captions_from_narration("   ", 10.0) == []
    assert captions_from_narration("Hello there.", 0.0) == []
