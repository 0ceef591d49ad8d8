"""Flower names, default memories and the flower label extractor."""
import ast
import csv

import numpy as np
import pytest

from gmmproxy.bridge.flowers import (ALL_FLOWERS, DEFAULT_MEMORIES, EXTRA_FLOWERS, FLOWER_INDEX,
                                     FLOWERS, extract_flower)


def test_flowers_match_rags_npz(flower_data_dir):
    # agent i's starting memory in RAGs.npz names FLOWERS[i] ("Name - description")
    arr = np.load(flower_data_dir / "RAGs.npz")["arr_0"]
    names = [str(arr[i, 1, 0]).split(" - ")[0].strip().lower() for i in range(30)]
    assert list(FLOWERS) == names
    assert [extract_flower(str(arr[i, 1, 0])) for i in range(30)] == names


def test_name_tables():
    assert len(FLOWERS) == 30 and len(set(ALL_FLOWERS)) == len(ALL_FLOWERS)
    assert ALL_FLOWERS[:30] == FLOWERS and ALL_FLOWERS[30:] == EXTRA_FLOWERS
    assert all(FLOWER_INDEX[name] == i for i, name in enumerate(ALL_FLOWERS))


def test_default_memories_name_their_flower():
    assert len(DEFAULT_MEMORIES) == 30 and len(set(DEFAULT_MEMORIES)) == 30
    for name, sentence in zip(FLOWERS, DEFAULT_MEMORIES):
        assert extract_flower(sentence) == name, sentence
        # the flower is named literally, not only through a variant
        assert name in sentence.lower()


@pytest.mark.parametrize("text, label", [
    (" The prettiest flower is the rose, which embodies love.", "rose"),
    (" The prettiest flower is the Calla Lily, with its elegant trumpet.", "calla lily"),
    (" The prettiest flower is the calla lily, though some prefer the lily.", "calla lily"),
    (" The prettiest flower is the gerbera daisy, brighter than any daisy.", "gerbera daisy"),
    (" The prettiest flower is the Gerbera, a cheerful bloom.", "gerbera daisy"),
    (" The prettiest flower is the bird of paradise, an exotic bloom.", "bird of paradise"),
    (" The prettiest flower is the Bird-of-Paradise, striking.", "bird of paradise"),
    (" The prettiest flower is the cherry blossom, whose petals fall like snow.", "cherry blossom"),
    (" The prettiest flower is undoubtedly the sunflower, bold and bright.", "sunflower"),
    (" The prettiest flower is without a doubt the hyacinth.", "hyacinth"),
    (" The prettiest flower is lavender, as its delicate purple spikes sway.", "lavender"),
    (" The prettiest flower is the delicate peony, softer than a rose.", "peony"),
    (" The prettiest flowers are lilies, graceful and fragrant.", "lily"),
    (" The prettiest flower is the iris; irises outshine daisies.", "iris"),
    (" The prettiest flower is the CHRYSANTHEMUM, with its layered petals.", "chrysanthemum"),
    (" The prettiest flower is the rose-tinted peony of early June.", "peony"),
    (" The prettiest flower is the lavender-hued wisteria draping the arbor.", "wisteria"),
    (" The prettiest flower is the water lily floating on the pond.", "water lily"),
    (" The prettiest flower is the jasmine, sweeter than a rose.", "jasmine"),
    (" Roses are nice, but the prettiest flower is the tulip.", "tulip"),
    (" I think the most beautiful flower is the orchid, not the rose.", "orchid"),
    (" Daisies are my favourite.", "daisy"),
    (" The prettiest flower is the one you love.", None),
    ("", None),
])
def test_extract_flower_cases(text, label):
    assert extract_flower(text) == label


def test_extract_flower_type_error():
    with pytest.raises(TypeError, match="text must be a str"):
        extract_flower(None)


def _naive_label(text):
    """Independent reference: the earliest canonical name (or its stem, for plurals like
    lilies/peonies) after 'prettiest flower is', longest name on ties."""
    low = text.lower()
    after = low[low.index("prettiest flower is") + len("prettiest flower is"):]
    best = None
    for name in FLOWERS:
        stem = name[:-1] if name.endswith("y") else name
        i = after.find(" " + stem)  # names follow a space in these answers
        if i >= 0 and (best is None or i < best[0] or (i == best[0] and len(name) > len(best[1]))):
            best = (i, name)
    return None if best is None else best[1]


def test_extractor_maps_every_published_answer(flower_data_dir):
    """The 100% claim: every answer of all 64 published CSV files gets one of the 30
    starting flowers, the same one the naive reference finds."""
    files = sorted(flower_data_dir.glob("output*.csv"))
    assert len(files) == 64
    n_answers = 0
    seen = set()
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        for row in rows[1:]:
            for cell in row[1:]:
                text = ast.literal_eval(cell)[0]
                label = extract_flower(text)
                assert label in FLOWERS, (f.name, text)
                assert label == _naive_label(text), (f.name, text)
                seen.add(label)
                n_answers += 1
    assert n_answers == 64 * 40 * 30
    assert {"calla lily", "gerbera daisy", "bird of paradise", "cherry blossom"} <= seen
