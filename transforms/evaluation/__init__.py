"""Caption evaluation: LP-MusicCaps' metrics (BLEU, METEOR, ROUGE-L, BERTScore, vocabulary, novelty, length).

See :mod:`.metrics` (``evaluate_captions``) for what each number is and how it is computed.
"""
