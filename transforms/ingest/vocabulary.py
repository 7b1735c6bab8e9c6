"""One tag vocabulary for every source: a name spelled one way and a category from TAG_CATEGORIES.

Sources tag music in their own words: MTG-Jamendo writes `genre---easylistening`, MusicCaps free
phrases such as "soft female vocal", MagnaTagATune column names such as "no voice" or "clasical".
`categorise` maps each onto the shared vocabulary:

1. `prefix---name` (MTG-Jamendo; any manifest may use it): the prefix names the category
   (`mood/theme` -> mood); the name is looked up for its canonical spelling.
2. A known tag or synonym (the tables below: MTG-Jamendo's tags, MagnaTagATune's, common
   MusicCaps aspects) -> its canonical name and category.
3. A free phrase -> kept as written (normalised), its category read from its words: explicit
   quality/tempo words first, then vocals, instruments, tempo adjectives, genres, moods.
4. Anything else -> kept under "other". A tag is never dropped.
"""

from __future__ import annotations

import re

from tunescribe.schemas import TAG_CATEGORIES

_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9&+-]+")
_BPM = re.compile(r"^\d+(\.\d+)?\s*bpm$")

# MTG-Jamendo's category prefixes.
PREFIXES = {"genre": "genre", "instrument": "instrument", "mood/theme": "mood", "mood": "mood",
            "theme": "mood", "tempo": "tempo", "vocals": "vocals", "quality": "quality"}

# Canonical tags by category. MTG-Jamendo's run-together names (easylistening) and
# MagnaTagATune's variants (clasical, harpsicord) are synonyms below.
CANONICAL = {
    "genre": """rock pop jazz blues classical electronic electronica hip hop rap country folk metal
        heavy metal punk reggae r&b soul funk disco house deep house techno trance ambient dance edm dubstep
        drum and bass lounge chillout downtempo trip hop new age world latin indie alternative
        alternative rock        experimental soundtrack orchestral opera gospel easy listening instrumental pop pop rock
        pop folk electropop synthpop hard rock soft rock blues rock progressive psychedelic grunge ska
        bossa nova salsa flamenco tango celtic indian bollywood arabic african middle eastern
        baroque medieval industrial ballad swing bebop fusion bluegrass rockabilly emo hardcore
        reggaeton afrobeat dub atmospheric breakbeat idm jungle chanson christian children's music
        lullaby video game music march minimal drone irish spanish oriental""",
    "instrument": """piano electric piano acoustic guitar electric guitar classical guitar guitar bass
        double bass drums drum machine percussion synthesizer keyboard organ strings violin viola
        cello harp flute clarinet oboe bassoon saxophone trumpet trombone french horn horn tuba
        brass woodwinds harpsichord accordion harmonica banjo mandolin ukulele sitar tabla bells
        chimes xylophone marimba vibraphone glockenspiel computer sampler bongos congas timpani
        tambourine shaker cymbals hi-hat snare kick orchestra lute fiddle pad beat clapping rhodes""",
    "vocals": """vocals male vocals female vocals no vocals instrumental choir rap vocals spoken word
        vocal harmony backing vocals humming whistling chant opera vocals duet talking""",
    "mood": """happy sad relaxing calm energetic emotional epic dark uplifting romantic melancholic
        aggressive dreamy peaceful mellow intense chill groovy fun funny hopeful inspiring
        meditative motivational nostalgic sexy upbeat angry scary tense suspenseful playful
        joyful passionate soulful powerful heavy eerie weird strange spacey airy film love party
        christmas children sport travel summer holiday adventure action advertising background
        corporate documentary drama game trailer space nature retro cool positive deep soft
        melodic commercial fast-paced slow-paced""",
    "tempo": "fast slow medium tempo fast tempo slow tempo moderate tempo uptempo fast beat",
    "quality": """low quality high quality poor audio quality noisy lo-fi mono stereo live recording
        amateur recording studio recording muffled distorted sound vinyl crackle loud quiet noise echo
        silence""",
}

SYNONYMS = {
    # MTG-Jamendo spellings
    "easylistening": "easy listening", "instrumentalpop": "instrumental pop", "poprock": "pop rock",
    "popfolk": "pop folk", "triphop": "trip hop", "newage": "new age", "hiphop": "hip hop",
    "rnb": "r&b", "drumnbass": "drum and bass", "acousticguitar": "acoustic guitar",
    "electricguitar": "electric guitar", "electricpiano": "electric piano", "drummachine": "drum machine",
    "doublebass": "double bass", "classicalguitar": "classical guitar", "frenchhorn": "french horn",
    "voice": "vocals", "acoustic bass guitar": "bass", "bass guitar": "bass", "electric bass": "bass",
    "filmscore": "film", "synth": "synthesizer", "synths": "synthesizer", "alternativerock": "alternative rock",
    "hardrock": "hard rock", "softrock": "soft rock", "heavymetal": "heavy metal", "deephouse": "deep house",
    "videogame": "video game music",
    # MagnaTagATune spellings and merged variants
    "clasical": "classical", "classic": "classical", "harpsicord": "harpsichord", "violins": "violin",
    "guitars": "guitar", "drum": "drums", "flutes": "flute", "string": "strings", "sax": "saxophone",
    "horns": "horn", "woodwind": "woodwinds", "bongo": "bongos", "beats": "beat", "electro": "electronic",
    "jazzy": "jazz", "funky": "funk", "india": "indian", "choral": "choir", "chorus": "choir",
    "chanting": "chant", "operatic": "opera vocals", "female opera": "opera vocals",
    "male opera": "opera vocals", "soprano": "opera vocals", "monks": "chant", "quick": "fast",
    "no voice": "no vocals", "no voices": "no vocals", "no vocal": "no vocals", "no singing": "no vocals",
    "no singer": "no vocals", "singer": "vocals", "singing": "vocals", "vocal": "vocals",
    "voices": "vocals", "male": "male vocals", "man": "male vocals", "men": "male vocals",
    "male vocal": "male vocals", "male voice": "male vocals", "male singer": "male vocals",
    "man singing": "male vocals", "female": "female vocals", "woman": "female vocals",
    "women": "female vocals", "girl": "female vocals", "female vocal": "female vocals",
    "female voice": "female vocals", "female singer": "female vocals", "female singing": "female vocals",
    "woman singing": "female vocals", "piano solo": "piano",
    # MusicCaps aspects that name a vocabulary tag in other words
    "no voice over": "no vocals", "instrumental music": "instrumental", "lofi": "lo-fi",
    "low fidelity": "lo-fi", "poor quality": "low quality", "bad audio quality": "poor audio quality",
    "medium fast tempo": "medium tempo", "mid tempo": "medium tempo", "up tempo": "uptempo",
    "melancholy": "melancholic", "relaxed": "relaxing", "relaxation": "relaxing",
    "dreamy music": "dreamy", "happiness": "happy", "sadness": "sad", "energy": "energetic",
}

# Words that reveal a free phrase's category, checked in this order (see the module docstring).
_STRONG = (("quality", {"quality", "recording", "noise", "noisy", "lo-fi", "lofi", "hiss", "hissing",
                        "crackle", "muffled", "mono", "static", "live", "reverb", "reverberant", "boomy",
                        "muddy", "harsh", "messy", "unbalanced", "distorted", "distortion", "echo",
                        "crowd", "audience", "cheering", "applause", "amateur", "mixed", "mastered"}),
           ("tempo", {"tempo", "bpm", "pace", "paced", "uptempo"}))
_WEAK = (
    ("vocals", {"vocal", "vocals", "voice", "voices", "singer", "singers", "singing", "sings", "sung",
                "choir", "rapping", "rapper", "vocalist", "vocalists", "humming", "whistling", "chant",
                "chanting", "harmonies", "lyrics", "falsetto", "spoken", "speech", "talking"}),
    ("instrument", {"piano", "guitar", "guitars", "bass", "drum", "drums", "percussion", "percussions",
                    "synth", "synths", "synthesizer", "keyboard", "keys", "organ", "strings", "string",
                    "violin", "viola", "cello", "harp", "flute", "clarinet", "oboe", "bassoon", "sax",
                    "saxophone", "trumpet", "trombone", "horn", "horns", "tuba", "brass", "woodwind",
                    "woodwinds", "harpsichord", "accordion", "harmonica", "banjo", "mandolin", "ukulele",
                    "sitar", "tabla", "bells", "xylophone", "marimba", "vibraphone", "glockenspiel",
                    "sampler", "bongos", "congas", "timpani", "tambourine", "shaker", "cymbals", "hi-hat",
                    "hihat", "snare", "kick", "808", "orchestra", "lute", "fiddle", "beat", "beats",
                    "groove", "riff", "riffs", "bassline", "arpeggio", "arpeggios", "chords",
                    "pads", "instruments", "instrument", "clap", "claps", "clapping", "djembe",
                    "e-bass", "e-guitar", "e-piano", "hat", "hats", "synthesiser", "drumming",
                    "didgeridoo", "theremin", "turntable", "turntables", "scratching", "rimshot",
                    "rimshots", "bell", "piccolo", "recorder", "kalimba", "steelpan", "gong", "cowbell",
                    "triangle", "woodblock", "koto", "shamisen", "erhu", "guzheng", "oud", "bagpipes",
                    "dhol", "mridangam", "veena", "shehnai", "bouzouki", "balalaika", "melodica",
                    "percussive", "conductor", "ensemble", "band", "quartet", "trio"}),
    ("tempo", {"fast", "slow", "quick", "rapid", "moderate", "medium"}),
    ("genre", {"hip-hop", "trap", "club", "cinematic", "traditional", "devotional", "religious",
               "regional", "carnatic", "hindustani", "bhangra", "kpop", "k-pop", "j-pop", "cumbia",
               "mariachi", "polka", "waltz", "shanty", "hymn", "anthem", "jingle", "lullaby", "cover"}),
    ("mood", {"youthful", "spirited", "exciting", "cheerful", "easygoing", "calming", "enthusiastic",
              "vibrant", "lively", "sentimental", "soothing", "addictive", "buoyant", "engaging",
              "hypnotic", "punchy", "pleasant", "animated", "trippy", "catchy", "chaotic", "dramatic",
              "heartfelt", "haunting", "vigorous", "danceable", "poignant", "vivacious", "mysterious",
              "sinister", "ethereal", "suspense", "spooky", "melodious", "captivating", "mystical",
              "pensive", "pulsating", "sensual", "spiritual", "peppy", "smooth", "futuristic", "ominous",
              "mellifluous", "warm", "festive", "violent", "grim", "manic", "dulcet", "emphatic",
              "bouncy", "perky", "entertaining", "enigmatic", "celestial", "dangerous", "eccentric",
              "gentle", "meditation", "meditational", "serene", "tranquil", "cheesy", "quirky",
              "triumphant", "majestic", "somber", "sombre", "gloomy", "moody", "bright", "dreamlike",
              "emotive", "expressive", "optimistic", "reflective", "tender", "whimsical"}),
)


def _table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for category, names in CANONICAL.items():
        # Multi-word names are listed by their words; rebuild them from the known phrases.
        words = names.split()
        i = 0
        while i < len(words):
            for n in (4, 3, 2, 1):  # longest canonical phrase starting here
                phrase = " ".join(words[i:i + n])
                if n == 1 or phrase in _MULTIWORD:
                    table.setdefault(phrase, (phrase, category))
                    i += n
                    break
    for raw, canonical in SYNONYMS.items():
        table[raw] = table[canonical]
    return table


_MULTIWORD = {
    "hip hop", "heavy metal", "deep house", "alternative rock", "drum and bass", "trip hop", "new age", "easy listening", "instrumental pop",
    "pop rock", "pop folk", "hard rock", "soft rock", "blues rock", "bossa nova", "middle eastern",
    "children's music", "video game music", "electric piano", "acoustic guitar", "electric guitar",
    "classical guitar", "double bass", "drum machine", "french horn", "male vocals", "female vocals",
    "no vocals", "rap vocals", "spoken word", "vocal harmony", "backing vocals", "opera vocals",
    "medium tempo", "fast tempo", "slow tempo", "moderate tempo", "fast beat", "low quality",
    "high quality", "poor audio quality", "live recording", "amateur recording", "studio recording",
    "distorted sound", "vinyl crackle",
}
TABLE = _table()
_GENRE_WORDS = {name for name, (_, cat) in TABLE.items() if cat == "genre" and " " not in name}
_MOOD_WORDS = {name for name, (_, cat) in TABLE.items() if cat == "mood" and " " not in name}
assert all(cat in TAG_CATEGORIES for _, cat in TABLE.values())


def normalise_name(raw: str) -> str:
    """Lower case, `_` as a space, single spaces, no surrounding quotes or punctuation."""
    return _SPACES.sub(" ", raw.replace("_", " ")).strip().strip("\"'.,;:").strip().lower()


def _from_words(name: str) -> str:
    words = set(_WORD.findall(name))
    words |= {w[:-1] for w in words if w.endswith("s") and len(w) > 3}  # plurals: trumpets, hats
    for category, keys in _STRONG + _WEAK:
        if words & keys:
            return category
    if words & _GENRE_WORDS:
        return "genre"
    if words & _MOOD_WORDS:
        return "mood"
    return "other"


def categorise(raw: str) -> tuple[str, str]:
    """A raw tag -> (canonical name, category); name "" means the raw tag was empty."""
    name = normalise_name(raw)
    if "---" in name:  # MTG-Jamendo style: category---name
        prefix, _, rest = name.partition("---")
        rest = normalise_name(rest)
        category = PREFIXES.get(prefix.strip())
        known = TABLE.get(rest) or TABLE.get(rest.replace(" ", ""))
        canonical = known[0] if known else rest
        if category is None:
            category = known[1] if known else _from_words(rest)
        return canonical, category
    if name in TABLE:
        return TABLE[name]
    if _BPM.match(name):
        return name, "tempo"
    return name, _from_words(name)
