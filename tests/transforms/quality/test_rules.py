"""Caption checks on a planted corpus: bad captions caught, good MusicCaps captions kept.

Good captions are the human captions of the MusicCaps train split (is_audioset_eval False), each
with its own aspect list as tags. Bad captions are planted into the same rows the way generators
fail: an instrument no tag names, a singer on an instrumental clip, a chat-model refusal, leaked
probabilities/labels, another language, a repetition loop. The test prints both rates per kind.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import random
from collections import Counter

import pytest

from tunescribe.schemas import Attribute, Caption, Clip, Provenance, Tag
from tunescribe.transforms.quality import lexicon
from tunescribe.transforms.quality.caption_stats import with_caption_stats
from tunescribe.transforms.quality.consistency import instrument_mentions, parse_key
from tunescribe.transforms.quality.rules import CaptionRules, caption_failures
from tunescribe.transforms.quality.text import language_of, longest_run, repetition, words

PLANT_INSTRUMENTS = ["piano", "acoustic guitar", "electric guitar", "violin", "cello", "saxophone", "trumpet",
                     "flute", "clarinet", "organ", "harp", "banjo", "accordion", "harmonica", "synthesizer",
                     "xylophone", "sitar", "trombone", "ukulele", "mandolin"]
INSTRUMENT_PLANTS = [
    "{c} A {x} plays a gentle melody in the background.", "{c} There is also a {x} solo in the middle.",
    "A {x} opens the piece. {c}", "{c} The {x} carries the main theme throughout.",
    "{c} It is driven by a {x} and soft pads.", "{c} A lively {x} answers the lead line.",
]
VOICE_PLANTS = [
    "{c} A soulful female vocalist sings over the track.", "{c} A male singer delivers heartfelt lyrics.",
    "A choir sings in harmony. {c}", "{c} The vocals are soft and breathy.",
    "{c} A rapper raps energetic verses over the beat.", "{c} You can hear a man singing the chorus.",
    "{c} A woman's voice hums the melody.", "{c} Backing vocals join in the chorus.",
]
REFUSALS = [
    "I'm sorry, but as an AI language model I cannot listen to audio files.",
    "As an AI, I am unable to hear the music, but based on the tags it may be {t}.",
    "I apologize, but I can't provide a description of this song without hearing it.",
    "Sorry, I cannot access the audio. The tags suggest {t}.",
    "As a text-based AI, I don't have the ability to listen to music. {c}",
    "I am not able to describe audio content. However, {c}",
    "Unfortunately I'm unable to process audio. Here is a guess: {c}",
    "I cannot listen to this track, but it seems to be {t}.",
    "Here is a caption for the song: {c}", "Sure! {c}", "Certainly. Based on the given tags, {c}",
    "{c} I hope this helps!", "Caption: {c}", "{c} Let me know if you need another description.",
]
LEAKS = [
    "{c} ({a}: {p1}, {b}: {p2})", "{a} (0.{d1}), {b} (0.{d2}) - {c}", "{c} Confidence: {p1}.",
    "{c} The model predicts {a} with a probability of {d1}%.", "Label: {a}. {c}", "{c} Tags: {a}, {b}.",
    "This song is labeled as {a} and {b}. {c}", "{c} [{a}={p1}, {b}={p2}]", "The label {a} fits: {c}",
    "{c} Scores of {p1} for {a} and {p2} for {b}.", "{a} 0.{d1} {b} 0.{d2}. {c}", "genre---{a}, {c}",
]
FOREIGN = [
    "Esta canción de rock tiene una guitarra eléctrica distorsionada y una batería muy potente.",
    "Una pieza tranquila de piano con una melodía suave y melancólica, ideal para relajarse.",
    "Un tema de salsa con trompetas brillantes, percusión latina y un cantante apasionado.",
    "Ce morceau de jazz met en avant un saxophone chaleureux accompagné d'une contrebasse.",
    "Une chanson pop entraînante avec des synthétiseurs, une batterie électronique et une voix féminine.",
    "Il s'agit d'une musique classique jouée par un orchestre à cordes, douce et mélancolique.",
    "Dieses Lied ist ein schneller Rocksong mit lauten Gitarren und einem kraftvollen Schlagzeug.",
    "Ein ruhiges Klavierstück mit einer traurigen Melodie und langsamen Akkorden.",
    "Elektronische Tanzmusik mit einem treibenden Bass und hellen Synthesizerklängen.",
    "Questa canzone è una ballata romantica con pianoforte, archi e una voce maschile dolce.",
    "Un brano strumentale veloce con chitarra acustica e percussioni leggere.",
    "Esta música tem um violão suave, uma voz feminina delicada e um clima tranquilo.",
    "Uma faixa de samba animada com percussão forte, cavaquinho e coro.",
    "Dit nummer is een vrolijk popliedje met gitaar, drums en een heldere vrouwenstem.",
    "Ten utwór to spokojna ballada z fortepianem i smyczkami, bardzo nastrojowa.",
    "Это энергичная рок-композиция с электрогитарой, барабанами и мужским вокалом.",
    "Спокойная фортепианная пьеса с грустной мелодией и медленным темпом.",
    "这是一首轻快的流行歌曲，带有电子合成器、鼓和女声演唱。",
    "一段安静的钢琴曲，旋律优美而忧伤，节奏缓慢。",
    "これはギターとドラムが印象的な、テンポの速いロックの曲です。",
    "静かなピアノの曲で、悲しいメロディーがゆっくりと流れます。",
    "이 곡은 피아노와 현악기가 어우러진 잔잔한 발라드입니다.",
    "Bu şarkı elektro gitar ve davulların öne çıktığı hızlı bir rock parçasıdır.",
    "Detta är en lugn folkvisa med akustisk gitarr och en mjuk kvinnlig sång.",
    "Tämä kappale on rauhallinen pianoballadi, jossa on surullinen melodia.",
    "Ez a dal egy gyors rockszám elektromos gitárral és erőteljes dobokkal.",
    "Αυτό το τραγούδι είναι μια ήρεμη μπαλάντα με πιάνο και έγχορδα.",
    "Tento song je rychlá rocková skladba s elektrickou kytarou a bicími.",
    "Lagu ini adalah balada pop yang lembut dengan piano dan vokal wanita.",
    "Bài hát này là một bản ballad nhẹ nhàng với piano và giọng nữ.",
]


def _loop(caption: str, rng: random.Random) -> str:
    sentences = [s.strip() for s in caption.split(".") if s.strip()]
    first = sentences[0] + "."
    kind = rng.randrange(4)
    if kind == 0:  # a whole sentence again and again
        return " ".join([first] * rng.randint(3, 6))
    if kind == 1:  # a tail loop after a good start
        phrase = rng.choice(["and the guitar", "with a strong beat", "the song is", "very very"])
        return caption + " " + ", ".join([phrase] * rng.randint(4, 8))
    if kind == 2:  # one word stuck
        word = rng.choice(["la", "yeah", "music", "beat"])
        return first + " " + " ".join([word] * rng.randint(5, 12))
    return " ".join([first, sentences[-1] + "."] * rng.randint(3, 5))


def _clip(key: str, tags, captions, stats=None, attributes=()) -> Clip:
    return Clip(key=key, source_id=key, clip_index=0, start_s=0.0, end_s=10.0, sample_rate=48000, channels=1,
                provenance=Provenance("musiccaps", key, "test", "test"), tags=tuple(tags),
                attributes=tuple(attributes), captions=tuple(captions), stats=stats or {})


def _caption(text: str) -> Caption:
    return Caption(text=text, task="writing", backend="test", prompt_id="planted", prompt_version="1")


def _voiced(aspects: str) -> bool:
    return bool(lexicon.VOCAL_TAG_WORDS.search(aspects))


def plant(rows, seed: int = 0):
    """(kind, clip) pairs: one good and one planted bad caption per row, kinds in turn."""
    rng = random.Random(seed)
    good, bad = [], []
    kinds = ["hallucinated_instrument", "vocals_on_instrumental", "refusal", "leaked_probability",
             "wrong_language", "repetition_loop"]
    for i, row in enumerate(rows):
        aspects = [a.lower() for a in ast.literal_eval(row["aspect_list"])]
        tags = [Tag(name=a) for a in aspects]
        key = f"{row['ytid']}_{i}"
        good.append(("good", _clip(key, tags, [_caption(row["caption"])])))
        kind = kinds[i % len(kinds)]
        caption, stats = row["caption"], {}
        joined = " ; ".join(aspects)
        if kind == "hallucinated_instrument":
            present = {family for _, family in instrument_mentions(joined, strict=False)}
            choices = [x for x in PLANT_INSTRUMENTS
                       if lexicon.FAMILY_OF[x] not in present and x.split()[-1] not in joined]
            text = rng.choice(INSTRUMENT_PLANTS).format(c=caption, x=rng.choice(choices))
        elif kind == "vocals_on_instrumental":
            if lexicon.INSTRUMENTAL_TAGS.search(joined) and not _voiced(lexicon.INSTRUMENTAL_TAGS.sub("", joined)):
                pass  # the tags already say instrumental
            else:  # a clip whose measured voice share is nil (Silero VAD's speech_ratio)
                tags = [t for t in tags if not _voiced(t.name)]
                stats = {"speech_ratio": 0.0}
            text = rng.choice(VOICE_PLANTS).format(c=caption)
        elif kind == "refusal":
            text = rng.choice(REFUSALS).format(c=caption, t=", ".join(aspects[:3]))
        elif kind == "leaked_probability":
            a, b = (aspects + aspects)[:2] if len(aspects) < 2 else rng.sample(aspects, 2)
            d1, d2 = rng.randint(50, 99), rng.randint(10, 95)
            text = rng.choice(LEAKS).format(c=caption, a=a, b=b, p1=f"0.{d1}", p2=f"0.{d2}", d1=d1, d2=d2)
        elif kind == "wrong_language":
            text = rng.choice(FOREIGN)
        else:
            text = _loop(caption, rng)
        bad.append((kind, _clip(key + "_bad", tags, [_caption(text)], stats)))
    return good, bad


@pytest.fixture(scope="module")
def musiccaps_train(shared_data):
    path = shared_data / "musiccaps" / "musiccaps-public.csv"
    if not path.is_file():
        pytest.skip(f"MusicCaps not found at {path}")
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["is_audioset_eval"] == "False"]


def test_planted_bad_captions_caught_and_good_musiccaps_captions_kept(musiccaps_train):
    good, bad = plant(musiccaps_train)
    rules = CaptionRules()
    caught = lambda clip: caption_failures(with_caption_stats(clip).captions[0], clip, rules)  # noqa: E731

    wrong = [(clip, caught(clip)) for _, clip in good]
    wrong = [(clip, f) for clip, f in wrong if f]
    by_reason = Counter(f[0][0] for _, f in wrong)
    per_kind: dict[str, list[bool]] = {}
    missed = []
    for kind, clip in bad:
        failures = caught(clip)
        per_kind.setdefault(kind, []).append(bool(failures))
        if not failures:
            missed.append((kind, clip.captions[0].text[:100]))
    caught_rate = sum(sum(v) for v in per_kind.values()) / len(bad)
    wrong_rate = len(wrong) / len(good)
    print(f"\nplanted bad captions caught: {caught_rate:.1%} of {len(bad)}")
    for kind, hits in per_kind.items():
        print(f"  {kind:24s} {sum(hits) / len(hits):6.1%} of {len(hits)}")
    print(f"good MusicCaps train captions wrongly caught: {wrong_rate:.1%} of {len(good)}  {dict(by_reason)}")
    for kind, text in missed[:5]:
        print("  missed", kind, "|", text)
    assert caught_rate >= 0.95
    assert wrong_rate <= 0.05
    assert all(sum(v) / len(v) >= 0.9 for v in per_kind.values()), per_kind


def test_text_stats_measure_what_they_say():
    assert language_of("Esta canción de rock tiene una guitarra eléctrica y una batería potente.")[0] == "es"
    assert language_of("A calm song with acoustic guitar and a soft voice.")[0] == "en"
    assert repetition(words("the song is the song is the song is the song is")) > 0.5
    assert repetition(words("A slow piano ballad with a sad mood and soft strings.")) == 0.0
    assert longest_run(words("yeah yeah yeah yeah yeah")) == 5
    assert parse_key("a sad tune in F# minor") == "6 minor" and parse_key("in the key of Bb major") == "10 major"


def test_consistency_rules_against_measured_attributes_and_stats():
    rules = CaptionRules()
    tempo, key = Attribute("tempo", number=90.0), Attribute("key", value="A- major")
    clip = _clip("k", [Tag("piano", "instrument")], [], {"speech_ratio": 0.4}, (tempo, key))

    def reasons(text):
        c = with_caption_stats(_clip("k", clip.tags, [_caption(text)], clip.stats, clip.attributes))
        return [r for r, _ in caption_failures(c.captions[0], c, rules)]

    assert reasons("A calm solo piano piece at 90 bpm in Ab major.") == []
    assert reasons("A calm solo piano piece at 180 bpm in F minor.") == []  # double tempo, relative minor
    assert "tempo_mismatch" in reasons("A solo piano piece at 128 bpm.")
    assert "key_mismatch" in reasons("A solo piano piece in D minor.")
    assert "hallucinated_instrument" in reasons("A solo piano piece with a screaming saxophone.")
    assert "vocals_on_instrumental" not in reasons("A solo piano piece with a female singer.")  # voice share 0.4
    silent = dataclasses_replace(clip, stats={"speech_ratio": 0.0})
    c = with_caption_stats(_clip("k", silent.tags, [_caption("A piano piece with a man talking.")], silent.stats))
    assert [r for r, _ in caption_failures(c.captions[0], c, rules)] == ["vocals_on_instrumental"]
    c = with_caption_stats(_clip("k", silent.tags, [_caption("A piano piece without any vocals.")], silent.stats))
    assert caption_failures(c.captions[0], c, rules) == []


def dataclasses_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


# What SmolLM2-135M-Instruct wrote for MusicCaps train rows (benchmarks/smollm2_captions.py, greedy, the
# LP-MusicCaps prompts), with each row's aspect list: (rule it must fail, tags, caption as written).
SMOLLM2_TRAIN = [
    ("task_talk", ["pop", "tinny wide hi hats", "high pitched female vocal melody", "sustained pulsating synth lead",
                   "claps", "emotional", "sad", "passionate"],
     'The song description sentence is: "Pink, high pitched female vocal melody, soft synth lead, claps, emotional, '
     'sad, passionate."'),
    ("task_talk", ["low quality", "pop", "passionate male vocal", "happy", "fun", "joyful", "mellow kick hits",
                   "shimmering hi hats", "wide electric guitar melody", "wooden percussions", "syncopated snare"],
     "Ladies and gentlemen, I'm thrilled to share a song with you that showcases the essence of a passionate male "
     "vocal, a joyful melody, and a sonic tapestry of syncopated snare drums."),
    ("invented_story", ["low quality", "mono", "noisy", "drums solo", "double pedal kick", "punchy snare",
                        "shimmering cymbals", "boomy toms", "energetic", "manic"],
     "The song is a tribute to the legendary drummer, Kenny Demicheli, who has been a part of the band since the "
     "early days."),
    ("invented_story", ["guitarist", "male talking", "guitar demo", "energetic", "passionate", "strong voice"],
     "The guitarist's voice is a testament to their dedication to creating music that resonates with those who "
     "listen."),
    ("leaked_title", ["folk music", "rubab", "male vocals", "slow tempo", "emotional song", "violin", "accordion"],
     'The song is titled "The Song of the Wind" and is a folk-inspired piece of music with a slow tempo and '
     "emotional lyrics."),
    ("tag_list", ["r&b", "soul", "male vocals", "melodic singing", "strings sample", "strong bass", "electronic drums",
                  "sensual", "groovy", "urban"],
     "R&B, soul, male vocals, melodic singing, strings sample, strong bass, electronic drums, sensual, groovy, urban"),
    ("tag_list", ["guitar song", "piano backing", "simple percussion", "relaxing melody", "slow tempo", "bass",
                  "country feel", "instrumental", "no vocals"],
     "The guitar song, piano backing, simple percussion, relaxing melody, slow tempo, bass, country feel, "
     "instrumental, no vocals."),
    ("unsupported_attribute", ["children's song", "male vocals", "guitar", "percussion", "bass", "happy song",
                               "keyboard", "backing voices", "dance song for children", "moderate tempo"],
     "The Children's Song, a classic children's song, with a lively and energetic melody, featuring a guitar, a "
     "bass, a drum machine, a keyboard, a backing vocals, a dance song for children, a moderate tempo, and a fun "
     "soundtrack."),
]
# ... and what it wrote that says only what its tags say (kept).
SMOLLM2_TRAIN_KEPT = [
    (["slow jazz song", "barbershop quartet", "trumpets", "double bass", "vocal harmony", "male voices", "piano",
      "slow tempo", "romantic song"],
     "The song is a slow jazz song with a barbershop quartet, a male voice, a piano, and a double bass."),
]


def _model_caption(text: str) -> Caption:
    return Caption(text=text, task="summary", backend="transformers", prompt_id="lpmc-summary", prompt_version="1",
                   model_id="HuggingFaceTB/SmolLM2-135M-Instruct")


@pytest.mark.parametrize("rule, tags, text", SMOLLM2_TRAIN, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(SMOLLM2_TRAIN)])
def test_rules_catch_what_smollm2_wrote(rule, tags, text):
    clip = _clip("k", [Tag(t) for t in tags], [_model_caption(text)])
    failures = caption_failures(with_caption_stats(clip).captions[0], clip, CaptionRules())
    assert rule in {r for r, _ in failures}, failures


@pytest.mark.parametrize("tags, text", SMOLLM2_TRAIN_KEPT)
def test_smollm2_caption_that_keeps_to_its_tags_passes(tags, text):
    clip = _clip("k", [Tag(t) for t in tags], [_model_caption(text)])
    assert caption_failures(with_caption_stats(clip).captions[0], clip, CaptionRules()) == []


def test_unsupported_attributes_only_for_captions_written_from_tags():
    """A person or an audio model heard the music: naming a mood the tags lack is no invention."""
    tags = [Tag("acoustic guitar"), Tag("slow tempo")]
    text = "A melancholic acoustic guitar piece at a slow tempo, haunting and nostalgic."
    for backend, dropped in (("transformers", True), ("openai", True), ("human", False), ("transformers-audio", False)):
        caption = dataclasses.replace(_model_caption(text), backend=backend)
        clip = _clip("k", tags, [caption])
        failures = caption_failures(with_caption_stats(clip).captions[0], clip, CaptionRules())
        assert ("unsupported_attribute" in {r for r, _ in failures}) is dropped, (backend, failures)
    off = CaptionRules(max_unsupported_attributes=None)
    clip = _clip("k", tags, [_model_caption(text)])
    assert caption_failures(with_caption_stats(clip).captions[0], clip, off) == []


def test_a_caption_that_is_only_its_tags_fails_however_short_the_list():
    """The share rule catches a bare tag list the run rule lets through (a short list: 4 tags)."""
    tags = ["punk rock", "gothic rock", "male vocals", "grunt-like singing", "electric guitar", "bass",
            "acoustic guitar", "hard-hitting", "aggressive"]
    text = ("Punk rock, gothic rock, male vocals, grunt-like singing, electric guitar, bass, acoustic guitar, "
            "hard-hitting, aggressive")  # SmolLM2's summary of MusicCaps train row -FFx68qSAuY
    clip = _clip("k", [Tag(t) for t in tags], [_model_caption(text)])
    measured = with_caption_stats(clip).captions[0]
    assert measured.stats["tag_list_share"] == 1.0
    only_share = CaptionRules(max_tag_list_run=None)
    assert [r for r, _ in caption_failures(measured, clip, only_share)] == ["tag_list"]
    short = _clip("k", [Tag(t) for t in tags], [_model_caption("Punk rock, male vocals, electric guitar, aggressive")])
    measured = with_caption_stats(short).captions[0]
    assert measured.stats["tag_list_run"] == 4 and "tag_list" in {r for r, _ in caption_failures(measured, short, CaptionRules())}
    sentence = _clip("k", [Tag(t) for t in tags], [_model_caption(
        "An aggressive punk rock song: a male singer grunts over a hard-hitting electric guitar, bass and drums.")])
    assert "tag_list" not in {r for r, _ in caption_failures(with_caption_stats(sentence).captions[0], sentence,
                                                             CaptionRules())}
