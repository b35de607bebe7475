"""Text handling: masking of personal data, tokenization and stop words."""

from recommender.text.tokenize import load_user_dict, tokenize

__all__ = ["load_user_dict", "tokenize"]
