"""Tiny models with random weights, built offline from configs and saved like hub checkpoints.

Tests and benchmarks load them through the same `from_pretrained` code paths a real hub id or
local folder takes: a causal LM whose tokenizer has a chat template, a Whisper-style audio
encoder-decoder with its feature extractor, and an AST audio classifier over a few tag labels.
"""

from __future__ import annotations

import pathlib

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
# Words the tokenizer learns: the prompts' instructions and typical tags, so prompts tokenize
# into a realistic number of tokens.
CORPUS = """
write a song description sentence including the following single attribute attributes.
write a single sentence that summarize a song with the following attributes. Don't write artist name or album name.
paraphraze paraphrasing is acceptable. write the answer as a python dictionary with new_attribute and description
as keys. for new_attribute, write new attributes with high co-occurrence with the following attributes.
rock pop jazz blues electronic techno ambient classical folk hip hop guitar piano drums bass violin synth
female vocal male vocal happy sad energetic calm mellow fast slow tempo bpm key major minor C D E F G A B
{"genre": ["rock"], "instruments": ["guitar"], "mood": ["happy"], "tempo": "fast", "description": "a song"}
This is an upbeat rock song with electric guitar, punchy drums and a male vocal. 0 1 2 3 4 5 6 7 8 9
"""


def build_tokenizer(vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS] * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_causal_lm(path, hidden: int = 64, layers: int = 2, seed: int = 0) -> pathlib.Path:
    """A tiny Llama with random weights and a chat-template tokenizer, saved to `path`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = pathlib.Path(path)
    tok = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False, initializer_range=0.3)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_whisper(path, d_model: int = 32, seed: int = 0) -> pathlib.Path:
    """A tiny WhisperForConditionalGeneration + WhisperFeatureExtractor + tokenizer, saved to `path`."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    path = pathlib.Path(path)
    tok = build_tokenizer()
    # Whisper's generate() needs its task/timestamp tokens; a tiny vocabulary gets them too.
    tok.add_special_tokens({"additional_special_tokens": ["<|startoftranscript|>", "<|notimestamps|>"]})
    sot, no_ts = tok.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    torch.manual_seed(seed)
    config = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, d_model=d_model, encoder_layers=1,
                           decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                           encoder_ffn_dim=2 * d_model, decoder_ffn_dim=2 * d_model, max_source_positions=1500,
                           max_target_positions=128, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                           eos_token_id=tok.eos_token_id, decoder_start_token_id=sot, begin_suppress_tokens=None,
                           suppress_tokens=None)
    model = WhisperForConditionalGeneration(config)
    gen = model.generation_config
    gen.decoder_start_token_id, gen.no_timestamps_token_id = sot, no_ts
    gen.pad_token_id, gen.eos_token_id, gen.forced_decoder_ids = tok.pad_token_id, tok.eos_token_id, None
    model.save_pretrained(path)
    tok.save_pretrained(path)
    WhisperFeatureExtractor(feature_size=80, sampling_rate=16000).save_pretrained(path)
    return path


LABELS = ["Piano", "Electric guitar", "Male singing", "Techno", "Happy music", "Speech"]


def build_tiny_ast(path, multi_label=True, seed=0):
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(seed)
    config = ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       num_mel_bins=32, max_length=64, num_labels=len(LABELS),
                       id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)},
                       problem_type="multi_label_classification" if multi_label else "single_label_classification")
    ASTForAudioClassification(config).save_pretrained(path)
    ASTFeatureExtractor(num_mel_bins=32, max_length=64, sampling_rate=16000).save_pretrained(path)
    return str(path)
