"""Word lists the caption checks match against: instruments by family, vocal words, and the
phrases that give away refusals, meta-text, leaked model outputs and non-music content.

Instruments are grouped in families because tags and captions name the same sound at different
granularity ("digital drums" in the tags, "bongo hits" in the caption): a caption instrument is
supported when its family is. Multi-word names come first so "bass drum" is percussion, not bass.
"""

from __future__ import annotations

import re

# family -> names (singular; plurals are matched by the regex). Tuned on MusicCaps train captions.
INSTRUMENT_FAMILIES: dict[str, tuple[str, ...]] = {
    "percussion": (
        "bass drum", "kick drum", "snare drum", "drum machine", "drum kit", "drum set", "steel drum", "hi-hat",
        "hihat", "hi hat", "drum", "drums", "drumming", "drummer", "percussion", "snare", "kick",
        "cymbal", "tambourine", "bongo", "conga", "timpani", "cajon", "tabla", "djembe", "shaker", "cowbell",
        "rimshot", "rim shot", "toms", "taiko", "dhol", "gong", "castanets", "woodblock", "claps", "guiro",
        "timbale", "baraban", "darbuka", "goblet drum",
        "handclaps", "hand claps", "808", "beatbox", "breakbeat",
    ),
    "bass": ("bass guitar", "e-bass", "electric bass", "upright bass", "double bass", "contrabass", "sub-bass",
             "sub bass", "bassline", "bass line", "bass", "basses"),
    "guitar": ("electric guitar", "acoustic guitar", "slide guitar", "steel guitar", "guitar", "guitarist",
               "e-guitar", "ukulele", "banjo", "mandolin", "lute", "bouzouki", "charango", "rubab", "vielle"),
    "keys": ("electric piano", "grand piano", "e-piano", "piano", "pianist", "keyboard", "rhodes",
             "harpsichord", "clavinet", "organ", "organist", "celesta", "mellotron"),
    "synth": ("synthesizer", "synthesiser", "synth", "synths", "sampler", "arpeggiator", "theremin",
              "turntable", "scratching", "moog"),
    "strings": ("string section", "string quartet", "strings", "violin", "violinist", "viola", "cello", "cellist",
                "fiddle", "erhu", "sarangi"),
    "brass": ("french horn", "brass section", "brass", "trumpet", "trumpeter", "trombone", "tuba", "horn",
              "horns", "flugelhorn", "cornet", "euphonium", "bugle"),
    "woodwind": ("pan flute", "flute", "flutist", "saxophone", "saxophonist", "sax", "clarinet", "oboe",
                 "bassoon", "piccolo", "bagpipe", "bagpipes", "harmonica", "accordion",
                 "didgeridoo", "shakuhachi", "ocarina", "woodwind", "woodwinds", "melodica", "bansuri"),
    "mallet": ("xylophone", "marimba", "vibraphone", "glockenspiel", "bells", "bell", "chimes", "kalimba",
               "music box", "steelpan", "handpan", "gamelan", "metallophone"),
    "plucked": ("harp", "sitar", "koto", "shamisen", "oud", "guzheng", "zither", "dulcimer", "balalaika",
                "veena", "santoor"),
}

# Bass and percussion never count as hallucinated: nearly every band has them and taggers rarely
# name them (MusicCaps train: 1 caption in 10 names a bass its aspect list leaves out).
RHYTHM_SECTION = ("bass", "percussion")
# "synth strings", "a sound like a cello", "a flute-like pad", "open strings": a sound or a part of
# another instrument, not the instrument itself. Such mentions neither support nor contradict.
NOT_THE_INSTRUMENT_BEFORE = re.compile(
    r"(synth|synthesi[sz]ed|synthetic|digital|sampled|programmed|fake|virtual|"
    r"(like|resembl\w*|close to|sounds? of|imitat\w+|emulat\w+|similar to)(\s+(an?|the|some))?|"
    r"(open|nylon|steel|muted|plucked|plucking|plucks|down|across|guitar|bass)(\s+the)?|"
    r"alarm|door|school|bicycle)[\s-]*$", re.I)
NOT_THE_INSTRUMENT_AFTER = re.compile(
    r"^[\s-]*(like|sample|samples|patch|preset|emulation|imitation|voice|voicing|instruments?\b(?! play)|"
    r"sound\b|sounds like|sounding|synth|being plucked)", re.I)
# Tags that vouch for synthesizers without naming one ("digital drums", "electronic", "pads").
SYNTH_EVIDENCE = re.compile(r"\b(digital|electronic|electro|pads?|programmed|techno|edm|house|trance|dubstep|"
                            r"chiptune|8-bit|arcade|video ?game|videogame|synthwave|synthpop)\b", re.I)

# Words for a voice in the music. A claim is negated by a nearby NEGATION ("no vocals").
VOCAL_WORDS = (
    "vocal", "vocals", "vocalist", "vocalists", "singer", "singers", "singing", "sings", "sing", "sung",
    "voice", "voices", "choir", "choral", "chorus of voices", "rap", "raps", "rapping", "rapper", "lyrics",
    "lyric", "chanting", "chant", "chants", "humming", "hums", "crooning", "croons", "a cappella", "acapella",
    "yodel", "yodeling", "falsetto", "vocalizing", "vocalising",
    "backing vocals", "harmonizing", "harmonising",
)
NEGATIONS = ("no", "without", "not", "absence", "absent", "lack", "lacks", "lacking", "devoid", "free",
             "none", "nor", "zero", "never", "instead", "minus", "doesn't", "isn't", "aren't", "don't", "nobody")

# A voice that speaks rather than sings: "a male voice speaking", "a narrator".
SPEECH_AFTER = re.compile(r"^[\s,]*(is |are |can be heard )?(speak\w*|talk\w*|narrat\w*|say\w*|giving|explain\w*|"
                          r"announc\w*|laugh\w*|shout\w*|count\w*|whisper\w*|preach\w*|reading|telling|"
                          r"introduc\w*|over\b|-?over\b)", re.I)
NOT_A_VOICE_AFTER = re.compile(r"^[\s-]*(bowls?|tones?|patch|pads?|synth)\b", re.I)  # "singing bowl", "voice patch"
NOT_A_VOICE_BEFORE = re.compile(r"(synth|synthesizer|keyboard|lead|instrument|guitar|organ|two|different)[\s-]*$", re.I)
SPEECH_WORDS = re.compile(r"\b(narrator|speaker|announcer|speech|spoken|talking|speaking|conversation|dialogue)\b", re.I)

# Tags that say a clip has no voice, and tags that say it has one.
INSTRUMENTAL_TAGS = re.compile(r"\b(instrumental|no (vocals?|voices?|singers?|singing)|without (vocals?|voices?))\b")
VOCAL_TAG_WORDS = re.compile(r"\b(vocals?|voices?|singers?|singing|sung|rap\w*|choir|choral|chant\w*|humming|"
                             r"lyrics|a ?cappella|male|female|falsetto|soprano|tenor|baritone)\b")

# Refusals and apologies of a chat model, and meta-text around an answer instead of a caption.
REFUSAL = re.compile(
    r"\b(as an ai|ai language model|language model|i'?m sorry|i am sorry|i apologi[sz]e|my apologies|"
    r"i can ?not|i can'?t|i'?m unable|i am unable|i'?m not able|i am not able|unable to (listen|hear|access|"
    r"provide|process|analy[sz]e)|i don'?t have (the ability|access)|i do not have (the ability|access)|"
    r"as a text-based|cannot (listen|hear|access)|can'?t (listen|hear|access)|i'?m just an ai|openai)\b", re.I)
META = re.compile(
    r"(^\s*(sure|certainly|of course|okay|ok)\b[,!.]|^\s*(here is|here's|below is)\b|"
    r"\b(caption|description|output|answer|summary|paraphrase)\s*:|\bi hope this helps\b|"
    r"\b(the|these|those) (given|provided|following|above) (tags|labels|aspects|keywords|attributes)\b|"
    r"\bbased on the (given |provided )?(tags|labels|aspects|keywords|attributes)\b|\baspect[_ ]list\b|"
    r"\b(let me know|feel free to|as requested|in this caption|the caption (above|below))\b|"
    r"\b(note|input|prompt|instruction|response)\s*:|\bassistant\b)", re.I | re.M)
# Raw model outputs leaking into text: probabilities, scores, "label", tag-list syntax.
PROBABILITY = re.compile(
    r"(?<![\w.])(0?\.\d{2,}|1\.0+)(?![\w.%])|\b(probabilit\w*|confidence|likelihood|logits?|softmax|"
    r"scores? of|scored|p\s*=\s*0?\.\d)\b|\d{1,3}(\.\d+)?\s?%\s*(probability|confidence|likely|chance|"
    r"certainty|score)", re.I)
LABEL = re.compile(r"(?<!record )(?<!record)\blabel(s|ed|led)?\b|\btags?\s*[:=]|\w+---\w+|\[\s*'[^']+'\s*,|"
                   r"\{\s*['\"]\w+['\"]\s*:", re.I)
# Naming a piece instead of describing it: "titled ...", "called '...'", quoted titles.
TITLE = re.compile(r"\b(titled|entitled|song called|track called|song named|track named|by the (band|artist|"
                   r"singer|group) )\b|[\"“][A-Z][^\"”]{2,60}[\"”]")
# Talk about the prompt or the task instead of (or around) a caption, as small chat models write it:
# "The song description sentence is: ...", "This sentence captures the essence of the attributes",
# "Don't forget to add the artist name" (the prompt's own words echoed). Tuned on SmolLM2's answers
# to MusicCaps train rows; MusicCaps' human captions never say these.
TASK_TALK = re.compile(
    r"\b(song description|description sentence|descriptive (sentence|passage)|(this|the|a|each|that) sentence|"
    r"(the|this|these|following|given|single|new)[ _](attributes?|keywords)|new_attributes?|"
    r"(artist|album|band|song's artist) name|don'?t forget|do not forget|paraphras\w*|summari[sz]e\w*|"
    r"the (description|caption|summary|prompt|instruction|task)\b|(this|the) (description|caption) "
    r"(is|was|uses|captures|includes|describes)|the use of the word|the word \"|smollm\w*|"
    r"python dictionary|dictionary|ladies and gentlemen|i'?m (thrilled|excited|happy|pleased)|"
    r"(share|present) (a|this|the) (song|track|piece) with you)\b", re.I)
# Telling a story about the piece instead of describing the sound: who wrote it, whom it honours,
# its fame. From tags alone a model cannot know any of it. Tuned on SmolLM2's train-row answers.
STORY = re.compile(
    r"\b(tribute to|in honou?r of|legend(ary|s)?|masterpiece|written by|composed by|"
    r"released (on|in|by|as)|debut|record label|hit single|grammy|renowned|world-famous|famous for|"
    r"the (band|artist|singer|composer|musician)'s|(his|her|their) (career|journey|life)|musical journey|"
    r"a local musician|the original (song|version)|testament to|rumou?red|woven into|the fabric of|"
    r"dedication to)\b", re.I)
# Two or more capitalised words in a row that do not start a sentence: a name ("Kenny Dexter",
# "Back to the Future") used as a noun: not followed by a lowercase word, as a style is ("a Middle
# Eastern song", "an Arabic Pop track"). Words from the clip's own tags and vocabulary words (genres,
# instruments, moods) do not count, nor does the sentence's first word.
NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?:[ -](?:(?:of|the|to|and|de|la|van|von) )?[A-Z][a-z]+)+(?! [a-z])")

# Content that is not music at all.
NON_MUSIC = re.compile(
    r"\b(podcast|interview|lecture|news (report|broadcast)|audiobook|talk show|speech|speaking|talking|"
    r"conversation|narrat\w+|spoken word|sound effects?|notification|ringtone|alarm|beep|beeping|"
    r"traffic|engine|siren|dog barking|birds? chirping|rain falling|wind blowing|white noise|static noise|"
    r"silence|silent|nothing (is )?(heard|audible|playing))\b", re.I)
MUSIC = re.compile(
    r"\b(music\w*|musical|song\w*|tune|track|melod\w+|harmon\w+|rhythm\w*|beat\w*|tempo|bpm|groove|chord\w*|"
    r"riff\w*|solo\w*|genre|genres|band|orchestra\w*|instrument\w*|ballad|anthem|composition|piece|jazz|"
    r"rock|pop|hip[- ]hop|rap|blues|funk|soul|reggae|country|folk|classical|electronic|techno|house|edm|"
    r"metal|punk|disco|dubstep|trap|ambient|lofi|lo-fi|r&b|gospel|opera|symphon\w+|sonata|waltz|march|"
    r"verse|bridge|key|major|minor|vocal\w*|sing\w*|sung|choir)\b", re.I)


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


# One regex per lexicon, longest alternatives first; plurals with an optional s/es.
INSTRUMENT = re.compile(r"(?<![\w-])(" + _alternation(n for f in INSTRUMENT_FAMILIES.values() for n in f)
                        + r")(?:e?s)?(?![\w-])", re.I)
FAMILY_OF = {name: family for family, names in INSTRUMENT_FAMILIES.items() for name in names}
VOCAL = re.compile(r"(?<![\w-])(" + _alternation(VOCAL_WORDS) + r")(?![\w-])", re.I)
