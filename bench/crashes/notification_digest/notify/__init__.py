"""Daily e-mail digests of account notifications."""
