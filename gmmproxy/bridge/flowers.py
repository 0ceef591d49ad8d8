"""Flower names, default agent memories, and the flower label extractor.

In the "prettiest flower" experiment (McGuinness et al. 2024) an agent's perspective at
a step is the flower its answer names. :func:`extract_flower` turns an answer into a
canonical flower name; :data:`FLOWERS` lists the 30 starting flowers in the order of the
published ``RAGs.npz`` (agent ``i`` starts with ``FLOWERS[i]``), and
:data:`EXTRA_FLOWERS` some more flowers a different model may name.
"""
from __future__ import annotations

import re

__all__ = [
    "FLOWERS",
    "EXTRA_FLOWERS",
    "ALL_FLOWERS",
    "FLOWER_INDEX",
    "DEFAULT_MEMORIES",
    "extract_flower",
]

#: The 30 starting flowers, canonical (lower-case, singular) names, in ``RAGs.npz`` order.
FLOWERS: tuple[str, ...] = (
    "rose", "orchid", "tulip", "lily", "sunflower",
    "cherry blossom", "lotus", "peony", "hydrangea", "dahlia",
    "magnolia", "bird of paradise", "iris", "gardenia", "poppy",
    "hyacinth", "wisteria", "daffodil", "gerbera daisy", "calla lily",
    "daisy", "chrysanthemum", "lavender", "carnation", "marigold",
    "hibiscus", "bluebell", "zinnia", "anemone", "azalea",
)

#: Other flowers recognised by :func:`extract_flower` (labels after the 30 above).
EXTRA_FLOWERS: tuple[str, ...] = (
    "jasmine", "camellia", "lilac", "gladiolus", "freesia", "ranunculus", "plumeria",
    "violet", "water lily", "lily of the valley", "tiger lily", "morning glory",
    "forget-me-not", "snapdragon", "foxglove", "bougainvillea", "begonia", "geranium",
    "petunia", "pansy", "protea", "lupine", "sweet pea", "primrose", "edelweiss",
    "honeysuckle", "cornflower", "lisianthus", "amaryllis", "aster",
)

#: Every recognised flower; the index of a name here is its integer label.
ALL_FLOWERS: tuple[str, ...] = FLOWERS + EXTRA_FLOWERS
#: canonical name -> integer label (its position in :data:`ALL_FLOWERS`)
FLOWER_INDEX: dict[str, int] = {name: i for i, name in enumerate(ALL_FLOWERS)}

#: One memory sentence per starting flower (``DEFAULT_MEMORIES[i]`` names ``FLOWERS[i]``),
#: written for this project; use them to seed a flower run without ``RAGs.npz``.
DEFAULT_MEMORIES: tuple[str, ...] = (
    "The rose opens in tight spirals of velvet petals and has carried messages of love for centuries.",
    "The orchid holds its waxy, symmetrical blooms on arching stems like a quiet piece of sculpture.",
    "The tulip lifts a clean cup of colour above its leaves and marks the true arrival of spring.",
    "The lily unfurls six curved petals and fills a room with a heavy, sweet perfume.",
    "The sunflower turns its broad golden face to follow the sun across a summer field.",
    "The cherry blossom covers bare branches in pale pink clouds that fall within a week.",
    "The lotus rises clean from muddy water and opens its broad petals at dawn.",
    "The peony swells from a hard round bud into a loose, ruffled bowl of scented petals.",
    "The hydrangea gathers hundreds of tiny florets into round heads whose colour follows the soil.",
    "The dahlia stacks its petals in precise geometric rings, from small pompons to dinner-plate blooms.",
    "The magnolia opens large creamy goblets on leafless branches at the very start of the year.",
    "The bird of paradise spreads orange and blue petals from a beak-like bract, like a bird about to fly.",
    "The iris folds its falls and standards into a ruffled blue flame veined with gold.",
    "The gardenia bears creamy white blooms whose rich fragrance carries far on a warm evening.",
    "The poppy has papery scarlet petals around a dark centre and stands for remembrance.",
    "The hyacinth packs dense spikes of starry bells that scent a whole garden in April.",
    "The wisteria hangs long violet racemes from twisting vines over pergolas and old walls.",
    "The daffodil trumpets bright yellow from roadsides and lawns when winter finally gives way.",
    "The gerbera daisy shows a perfect ring of bold petals in almost every cheerful colour.",
    "The calla lily curls a single smooth spathe into an elegant trumpet around a golden spike.",
    "The daisy is a simple white ring of petals around a sunny centre, found in every meadow.",
    "The chrysanthemum fills autumn gardens with layered blooms, from tiny buttons to great spidery heads.",
    "The lavender lines dry hillsides with purple spikes and a calm, clean scent that lingers on the hands.",
    "The carnation keeps its frilled, clove-scented petals fresh for weeks in a vase.",
    "The marigold glows orange and gold through the hottest months and keeps pests from the vegetable bed.",
    "The hibiscus opens a wide tropical trumpet with a long central column, each bloom lasting a single day.",
    "The bluebell carpets spring woodland floors with nodding violet-blue bells.",
    "The zinnia holds sturdy, brightly coloured flower heads that butterflies visit all summer.",
    "The anemone sways on slender stems with silky petals around a dark, velvety eye.",
    "The azalea smothers its shrub in vivid trumpet flowers for a few brilliant spring weeks.",
)

# Surface forms of each canonical name beyond the name itself (plurals, short forms,
# spelling variants). Multi-word forms may be written with spaces or hyphens.
_ALIASES: dict[str, tuple[str, ...]] = {
    "rose": ("roses",),
    "orchid": ("orchids",),
    "tulip": ("tulips",),
    "lily": ("lilies",),
    "sunflower": ("sunflowers", "sun flower", "sun flowers"),
    "cherry blossom": ("cherry blossoms", "sakura"),
    "lotus": ("lotuses", "lotus flower", "lotus flowers"),
    "peony": ("peonies",),
    "hydrangea": ("hydrangeas",),
    "dahlia": ("dahlias",),
    "magnolia": ("magnolias",),
    "bird of paradise": ("birds of paradise", "bird of paradise flower"),
    "iris": ("irises", "irides"),
    "gardenia": ("gardenias",),
    "poppy": ("poppies",),
    "hyacinth": ("hyacinths",),
    "wisteria": ("wisterias", "wistaria"),
    "daffodil": ("daffodils",),
    "gerbera daisy": ("gerbera daisies", "gerbera", "gerberas", "gerber daisy", "gerber daisies"),
    "calla lily": ("calla lilies", "calla", "callas"),
    "daisy": ("daisies",),
    "chrysanthemum": ("chrysanthemums", "mum", "mums"),
    "lavender": ("lavenders",),
    "carnation": ("carnations",),
    "marigold": ("marigolds",),
    "hibiscus": ("hibiscuses", "hibisci"),
    "bluebell": ("bluebells",),
    "zinnia": ("zinnias",),
    "anemone": ("anemones",),
    "azalea": ("azaleas",),
    "jasmine": ("jasmines", "jasmin"),
    "camellia": ("camellias",),
    "lilac": ("lilacs",),
    "gladiolus": ("gladioli", "gladioluses"),
    "freesia": ("freesias",),
    "ranunculus": ("ranunculi", "ranunculuses"),
    "plumeria": ("plumerias", "frangipani", "frangipanis"),
    "violet": ("violets",),
    "water lily": ("water lilies", "waterlily", "waterlilies"),
    "lily of the valley": ("lilies of the valley",),
    "tiger lily": ("tiger lilies",),
    "morning glory": ("morning glories",),
    "forget-me-not": ("forget-me-nots",),
    "snapdragon": ("snapdragons",),
    "foxglove": ("foxgloves",),
    "bougainvillea": ("bougainvilleas", "bougainvillaea"),
    "begonia": ("begonias",),
    "geranium": ("geraniums",),
    "petunia": ("petunias",),
    "pansy": ("pansies",),
    "protea": ("proteas",),
    "lupine": ("lupines", "lupin", "lupins"),
    "sweet pea": ("sweet peas",),
    "primrose": ("primroses",),
    "edelweiss": (),
    "honeysuckle": ("honeysuckles",),
    "cornflower": ("cornflowers",),
    "lisianthus": (),
    "amaryllis": ("amaryllises",),
    "aster": ("asters",),
}

# Forms whose every occurrence is ambiguous (a colour, a word) unless they are clearly
# used as a flower: they only count when preceded by an article/determiner.
_AMBIGUOUS = {"mum", "mums", "violet", "violets", "aster", "asters", "lavenders"}

# A name used as a modifier ("rose-tinted", "lavender-hued", "lily-like", "rose colored")
# is a colour or shape, not the flower being named. Hyphenated multi-word names
# ("bird-of-paradise", "forget-me-not") are consumed whole before this check applies.
_MODIFIER_AFTER = re.compile(
    r"(?:-[^\W\d_]|\s+(?:colou?red|hued|tinted|toned|shaped|like)\b)",
    re.IGNORECASE,
)
_DETERMINER_BEFORE = re.compile(r"\b(?:the|a|an|of|my|its)\s+$", re.IGNORECASE)

# Where the labelled flower is named: the first flower after this phrase is the label.
_ANCHORS = (
    re.compile(r"prettiest\s+flowers?\b", re.IGNORECASE),
    re.compile(r"(?:most\s+beautiful|loveliest|prettiest)\s+(?:flowers?|blooms?)\b", re.IGNORECASE),
)


def _form_pattern(form: str) -> str:
    words = re.split(r"[\s-]+", form)
    return r"[\s-]+".join(re.escape(w) for w in words)


def _build():
    forms = {}
    for name in ALL_FLOWERS:
        for form in (name,) + _ALIASES.get(name, ()):
            forms[form.lower()] = name
    # longest first: at a given position the regex alternation then prefers
    # "calla lily" over "calla", "gerbera daisy" over "gerbera", and so on
    ordered = sorted(forms, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(_form_pattern(f) for f in ordered) + r")(?![\w])",
        re.IGNORECASE,
    )
    lookup = {re.sub(r"[\s-]+", " ", f): name for f, name in forms.items()}
    return pattern, lookup


_PATTERN, _LOOKUP = _build()


def _first_flower(text: str, start: int) -> str | None:
    for m in _PATTERN.finditer(text, start):
        form = re.sub(r"[\s-]+", " ", m.group(1).lower())
        name = _LOOKUP[form]
        if _MODIFIER_AFTER.match(text, m.end()):
            continue
        if form in _AMBIGUOUS and not _DETERMINER_BEFORE.search(text[max(0, m.start() - 8):m.start()]):
            continue
        return name
    return None


def extract_flower(text) -> str | None:
    """The canonical name of the flower an answer calls the prettiest.

    The label is the first flower named after "prettiest flower" (so hedges such as
    "is undoubtedly the ..." and second flowers later in the sentence do not matter);
    without that phrase, after "most beautiful flower"/"loveliest flower"; failing
    both, the first flower in the text. Matching ignores case, accepts plurals and
    common variants, and prefers the longest name at a position ("calla lily" over
    "lily", "gerbera daisy" over "daisy"). A name used as a modifier ("rose-tinted",
    "lavender-hued") is skipped.

    Parameters
    ----------
    text : str
        One answer.

    Returns
    -------
    str or None
        An element of :data:`ALL_FLOWERS`, or None if no known flower is named.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    for anchor in _ANCHORS:
        m = anchor.search(text)
        if m is not None:
            found = _first_flower(text, m.end())
            if found is not None:
                return found
            break
    return _first_flower(text, 0)
