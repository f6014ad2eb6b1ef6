"""What the evaluation and benchmark recipes run: tokenizer loading, reconstruction quality, speed."""
