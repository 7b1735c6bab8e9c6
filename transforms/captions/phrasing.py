"""The offline captioner's phrasing tables: word classes and sentence frames, one plan per style.

Written for tunescribe from statistics of the MusicCaps *train* split (is_audioset_eval False):
which sentence openings, orders of topics and connectives its captions use around each tag
category (benchmarks/musiccaps_phrasing.py prints them; style_model.py fits which style suits
which tags). No caption text is copied: a frame is a short, generic sentence with slots, every
content word of a caption comes from a slot, and no frame names an instrument, genre or mood.

Frame language (rendered by offline.py):
    {field}      the field's items, joined "a, b and c"
    {a field}    with "a"/"an" before each singular item ("a piano", "strings", "a man talking
                 and female vocals")
    {is field}   "is a piano" / "are strings" (a list agrees with its first item)
    {the field}  "the piano", "the strings"
    {each field} "a tutorial, a jam and vinyl scratching" (an article per singular item)
    a(n)         "a" or "an", whichever the next word takes
A frame is used only when every field it names has items left; what it names is then used up.
Fields: genre, genre_song ("pop song"), genre_piece ("pop music piece"), vocals, instrumental, lead (the
first pitched instrument), instruments, percussion, band (instruments + percussion), negations
("no percussion"), mood (the first), moods, mood_nouns ("love song"), themes ("film", "party"),
tempo (the first tempo phrase), tempo_adj ("medium" of "medium tempo"), tempo_noun (a tempo phrase
that is a noun: "fast beat"), quality ("low quality"),
qualities, audio_quality ("poor" of "poor audio quality"), setting ("live performance"), others,
bpm, key, meter; for the summary few_genres, few_vocals (the first two), few_moods (three) and
few_band (four). Verbs {sings} and {is} agree with the field before them.
"""

from __future__ import annotations

# --- word classes --------------------------------------------------------------------------------

# An instrument tag naming one of these is percussion (the rhythm section), else pitched.
PERCUSSION_WORDS = frozenset("""drum drums drumming percussion percussions percussive snare snares kick kicks
    hi-hat hi-hats hihat hihats hat hats cymbal cymbals clap claps clapping shaker shakers tambourine tabla
    bongo bongos conga congas timpani cowbell rimshot rimshots toms tom triangle woodblock djembe cajon
    808 beatbox handclaps dhol""".split())
# Last words that make a phrase a noun already ("pop song"): no "song"/"piece" is added after it.
GENRE_NOUNS = frozenset("""music song songs piece tune track beat ballad anthem hymn soundtrack instrumental
    hit hits jingle lullaby march cover number composition performance theme score""".split())
# Last words of a mood phrase that only say "this is a mood" ("happy mood" -> "happy").
MOOD_SUFFIXES = frozenset("mood music feel feeling vibe vibes atmosphere tone sound song".split())
# Single-word "other" tags with these endings describe the sound ("sloppy", "minimalist"): moods.
ADJECTIVE_ENDINGS = ("ful", "ous", "ive", "ish", "ible", "able", "less", "ical", "ual", "ional", "eal", "ic", "ky",
                     "zy", "sy", "vy", "py", "hy", "gy", "ly", "ed")
# Single-word "other" tags that are adjectives without such an ending.
ADJECTIVES = frozenset("""rich complex simple urban hip generic cool raw dense clean dry bright dark warm soft
    loud quiet calm wild smooth fresh sweet modern retro vintage classic old new old-school solemn serene intimate
    sparse minimal sad happy chill fun epic mellow upbeat intense tense eerie angry funky sloppy dull
    tight heavy light deep airy tribal moody dreamy steady dirty gritty rowdy charming electrifying
    enthralling thrilling mesmerising mesmerizing amusing compelling unsettling chilling enchanting
    comforting lilting heart-touching hard-hitting exquisite unique elegant profound delicate clear
    bizarre merry cheery regal vivid grandiose distant grand lucid informal contemporary transcendental
    fervent carefree celebratory ceremonial incessant""".split())
NOT_ADJECTIVES = frozenset("music rally family assembly".split())
# Last words of a quality phrase that name how it was recorded ("live performance"): a setting.
SETTING_NOUNS = frozenset("""recording performance audience concert video session rehearsal practice show gig
    broadcast demo lesson tutorial take""".split())
# Last words dropped from an instrument tag ("guitar song" -> "guitar").
INSTRUMENT_SUFFIXES = frozenset("song music piece".split())
# Last words of a tempo phrase that is a noun ("fast beat": "it has a fast beat").
TEMPO_NOUNS = frozenset("tempo pace beat beats rhythm groove speed bpm".split())
# Quality words that read as "in <word>" after "the recording is".
IN_QUALITIES = frozenset({"mono", "stereo"})
# Head nouns of a voice phrase: they, not its last word, make it singular or plural.
VOICE_NOUNS = frozenset("""voice voices vocal vocals singer singers vocalist vocalists rapper rappers choir choirs
    chorus man men woman women boy boys girl girls child children kid kids person people guy guys lady
    ladies""".split())
# Plurals without an "s", and words that take no article ("traditional music", "crowd noise").
PLURAL_WORDS = frozenset("people children men women kids folks celli".split())
MASS_NOUNS = frozenset("""music noise laughter speech audio reverb echo static applause feedback distortion
    percussion rain wind water traffic chatter silence""".split())
# Nouns in -ing that take an article ("an amateur recording"), unlike gerunds ("gentle playing").
ING_NOUNS = frozenset("""recording ending opening wedding evening morning feeling setting building painting
    offering gathering meeting beginning happening warning outing swing""".split())
# One-word quality tags that are sounds, not qualities ("the recording is reverb" reads wrong).
SOUND_NOUNS = frozenset("reverb echo static noise distortion hiss crackle feedback clipping hum applause".split())
# One-word mood tags that name an occasion or theme (MTG-Jamendo's mood/theme): "It has a film theme."
THEMES = frozenset("""film love party christmas children sport travel summer holiday adventure action advertising
    background corporate documentary drama game trailer space nature commercial meditation relaxation energy
    happiness sadness suspense""".split())
# Words whose plural ends in "s" but which are singular or mass nouns.
SINGULAR_S = frozenset("""bass brass chorus percussion glass harness bus""".split())

# --- styles --------------------------------------------------------------------------------------
# A plan is a list of slots; a slot is a list of alternatives, the most specific first; an
# alternative is a tuple of equivalent frames (the seed picks one; each task takes the next).
# The first alternative whose fields all have items is used; a slot with none is skipped.

STYLES: dict[str, list[list[tuple[str, ...]]]] = {
    # "The low quality recording features ... It sounds ..., while the recording is ..."
    "recording": [
        [("The {quality} recording features {a genre_song} that consists of {a vocals} singing over {band}.",),
         ("The {quality} recording features {a vocals} singing over {band}.",),
         ("The {quality} recording features {a genre_song} that consists of {band}.",),
         ("The {quality} recording features {band}.",),
         ("The {quality} recording features {a vocals} singing.",),
         ("The {genre_song} features {a vocals} singing over {band}.",),
         ("The {genre_song} features {band}.",),
         ("The song features {a vocals} singing over {band}.",),
         ("The recording features {band}.",)],
        [("It sounds {moods}, while the recording is {qualities}.",
          "It sounds {moods} and the recording is {qualities}."),
         ("It sounds {moods}.",),
         ("The recording is {qualities}.",)],
    ],
    # "This is a ... music piece. There is a ... The atmosphere is ..."
    "piece": [
        [("This is the {setting} of {a genre_piece}.",), ("This is {a genre_piece}.",),
         ("This is {a setting}.",)],
        [("It is an {instrumental} piece.",)],
        [("There {is vocals} singing in this piece.",)],
        [("There {is lead} playing.",)],
        [("{A instruments} {is} also playing.",)],
        [("The rhythmic background consists of {the percussion}.",)],
        [("The tempo is {tempo_adj}, at about {bpm} bpm.",), ("The tempo is {tempo_adj}.",),
         ("The piece has {a tempo_noun}.",)],
        [("The atmosphere is {moods}.", "The atmosphere of the piece is {moods}.")],
    ],
    # "This song features ... This is accompanied by ... The mood of this song is ..."
    "features": [
        [("This {genre_song} features {a vocals}.",), ("This song features {a vocals}.",),
         ("This {genre_song} features {a lead}.",), ("This song features {a lead}.",)],
        [("This is accompanied by {band}.", "This is backed by {band}.")],
        [("There {is negations} in this song.",)],
        [("This is an {instrumental} song.",)],
        [("The mood of this song is {moods}.", "This song has a(n) {moods} mood.")],
        [("This song is {a genre_song}.",)],
    ],
    # "This song contains ... playing along with ... This is an amateur recording."
    "audio": [
        [("This song contains {a vocals} singing along with {band}.",),
         ("This audio contains someone playing {a lead} along with {band}.",),
         ("This audio contains someone playing {a lead}.",),
         ("This song contains {band}.",),
         ("This audio contains {a vocals} singing.",)],
        [("This is {a setting}.",)],
    ],
    # "This music is instrumental. The tempo is fast with ... The music is ... This music is a ..."
    "tempo_music": [
        [("This music is {instrumental}.",), ("{A vocals} {sings} this {mood} {genre_song}.",),
         ("{A vocals} {sings} this {mood} song.",), ("{A vocals} {sings} this song.",)],
        [("The tempo is {tempo_adj} with {band}.",), ("The tempo is {tempo_adj}.",)],
        [("The music is {moods}.", "The music sounds {moods}.")],
        [("This music is {a genre_piece}.",)],
    ],
    # "The song is an instrumental. The song is medium tempo with ... The song is ..."
    "song_tempo": [
        [("The song is an {instrumental}.",), ("{A vocals} {sings} this {mood} melody.",),
         ("{A vocals} {sings} this melody.",)],
        [("The song is {tempo} with {band}.",), ("The tempo is {tempo_adj} with {band}.",),
         ("The song is {tempo}.",)],
        [("The song is {moods}.", "The song sounds {moods}.")],
        [("The song is {a genre_song}.",)],
        [("The audio quality is {audio_quality}.",)],
    ],
}

# The summary: what the clip is, in one or two sentences; the rest of the facts are left out.
SUMMARY: list[list[tuple[str, ...]]] = [
    [("A(n) {few_moods} {few_genres} with {few_vocals} singing over {few_band}.",),
     ("A(n) {few_moods} {few_genres} with {few_band}.",),
     ("A(n) {few_genres} with {few_vocals} singing over {few_band}.",),
     ("A(n) {few_moods} song with {few_vocals} singing over {few_band}.",),
     ("A(n) {few_genres} with {few_band}.",),
     ("A(n) {few_moods} song with {few_band}.",),
     ("A(n) {few_moods} {few_genres} with {few_vocals} singing.",),
     ("A(n) {few_moods} {few_genres}.",),
     ("A song with {few_vocals} singing over {few_band}.",),
     ("A song with {few_band}.",),
     ("A song with {few_vocals} singing.",),
     ("A(n) {few_moods} piece of music.",),
     ("A recording of {a few_genres}.",)],
    [("The tempo is {tempo_adj} and the recording is {qualities}.",), ("In short, the tempo is {tempo_adj}.",),
     ("In short, the recording is {qualities}.",)],
    [("It is in {key}, at about {bpm} bpm.",), ("In short, about {bpm} bpm.",), ("In short, it is in {key}.",)],
]

# After a style's plan, every item still unused gets a sentence here (nothing is left out). The
# four variants of a slot go to the four tasks in turn, so a clip's captions differ even when
# only these sentences apply (none of them is a frame of a style), and each has at least four
# words (a caption of fewer is written from these alone: the quality gate's minimum is four).
CATCH_ALL: list[list[tuple[str, ...]]] = [
    [("This is {a genre_song}.", "The genre is {genre}.", "It is {a genre_piece}.",
      "The song belongs to the {genre} genre.")],
    [("There {is vocals} singing.", "The song has {vocals}.", "{A vocals} can be heard.",
      "The song features {a vocals}.")],
    [("The song features {band}.", "{A band} can be heard.", "It is played on {band}.",
      "The instrumentation consists of {band}.")],
    [("There {is negations} here.", "It has {negations}.", "The song has {negations}.", "This piece has {negations}.")],
    [("It is an {instrumental} track.", "The song is {instrumental}.", "This is an {instrumental} piece of music.",
      "The music is {instrumental}.")],
    [("Its tempo is {tempo_adj}, about {bpm} bpm.", "It has a(n) {tempo_adj} tempo of about {bpm} bpm.",
      "The song is played at a(n) {tempo_adj} tempo, about {bpm} bpm.", "The tempo is {tempo_adj}, around {bpm} bpm."),
     ("Its tempo is {tempo_adj}.", "It has a(n) {tempo_adj} tempo.", "The song is played at a(n) {tempo_adj} tempo.",
      "The tempo is {tempo_adj} throughout."),
     ("The song has {a tempo_noun}.", "It has {a tempo_noun}.", "It is played at {a tempo_noun}.",
      "The music has {a tempo_noun}."),
     ("The song is {tempo}.", "The pace is {tempo}.", "The music is {tempo}.", "The playing is {tempo}.")],
    [("The song feels {moods}.", "The mood is {moods}.", "It has a(n) {moods} feel.", "The overall mood is {moods}.")],
    [("It has {a mood_nouns}.", "It features {a mood_nouns}.", "The song has {a mood_nouns}.",
      "There {is mood_nouns} in it.")],
    [("It has a(n) {themes} theme.", "Its theme is {themes}.", "The theme is {themes}.",
      "It fits a(n) {themes} theme.")],
    [("The sound quality is {audio_quality}.", "The quality of the audio is {audio_quality}.",
      "The recording quality is {audio_quality}.", "Its audio quality is {audio_quality}.")],
    [("It is {a setting}.", "The song is {a setting}.", "This is {a setting} of music.",
      "The music comes from {a setting}.")],
    [("The audio is {qualities}.", "The sound is {qualities}.", "The song sounds {qualities}.",
      "The recording sounds {qualities}.")],
    [("It also features {each others}.", "You can also hear {each others}.", "The recording also has {each others}.",
      "It also has {each others}.")],
    [("The tempo is about {bpm} bpm.", "It is played at about {bpm} bpm.", "The song moves at about {bpm} bpm.",
      "Its tempo is around {bpm} bpm.")],
    [("The song is in {key}.", "It is in the key of {key}.", "The key is {key}.", "It is played in {key}.")],
    [("It is in {meter} time.", "The meter is {meter}.", "It is played in {meter} time.",
      "The time signature is {meter}.")],
]
