"""Whether a rule's trigger matches a message. No I/O: the caller brings what it knows.

Keywords are whole words, ignoring case and accents: both sides are folded (NFKD, combining marks
dropped, casefolded) and split into words, and a keyword — one word or a phrase — matches a run of
consecutive words. So "preço" matches "PRECO?" and "qual o preço!", "bom dia" matches "Bom dia!!" and
"bom, dia" (only words count, not what lies between them), but "pre" does not match "preço" and
"bom dia" does not match "bomdia". A keyword must hold at least one letter or digit.

Patterns are tenant regular expressions, run by the `regex` module rather than `re` because `regex`
can stop a search after a time limit: `re` has no timeout, and no cheap syntactic check refuses every
catastrophic pattern (nested quantifiers are only the famous case; `a*a*a*a*b` is polynomial and just as
slow on a long text). So a pattern is bounded three ways: its length (MAX_PATTERN), the text it reads
(the first MAX_SCANNED characters), and the time a search may take (SEARCH_TIMEOUT_S). A search that
runs out of time is a non-match, reported as such (PatternTimeout); the contract also refuses, when the
rule is saved, a pattern that runs out of time on a few adversarial probe texts (`probe_pattern`).
Each pattern is compiled once per process (a bounded cache).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import lru_cache

import regex

from zapgate_core.domain.automations.business_hours import is_open
from zapgate_core.domain.automations.definitions import (
    AwayTrigger,
    FirstMessageTrigger,
    KeywordTrigger,
    PatternTrigger,
    Trigger,
)

MAX_PATTERN = 500  # characters of a pattern
MAX_SCANNED = 4_096  # characters of a message a pattern reads: the start of a very long text decides
SEARCH_TIMEOUT_S = 0.05
_WORD = regex.compile(r"\w+")


class InvalidPattern(ValueError):
    """A pattern that cannot be used; str(self) says why."""


class PatternTimeout(Exception):
    """A search ran past SEARCH_TIMEOUT_S: the message is treated as not matching."""


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Preço' and 'PRECO' fold to the same 'preco'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def keyword_words(keyword: str) -> tuple[str, ...]:
    """A keyword's folded words; InvalidPattern when it has none (only spaces, punctuation or emoji)."""
    found = words(keyword)
    if not found:
        raise InvalidPattern("a keyword needs at least one letter or digit")
    return found


def keyword_matches(keywords: tuple[str, ...], text: str) -> bool:
    """Any keyword occurs in `text` as consecutive whole words."""
    said = words(text)
    for keyword in keywords:
        wanted = words(keyword)
        size = len(wanted)
        if size and any(said[i : i + size] == wanted for i in range(len(said) - size + 1)):
            return True
    return False


@lru_cache(maxsize=512)
def compile_pattern(pattern: str, case_sensitive: bool = False) -> regex.Pattern[str]:
    if not pattern:
        raise InvalidPattern("pattern must not be empty")
    if len(pattern) > MAX_PATTERN:
        raise InvalidPattern(f"pattern must be at most {MAX_PATTERN} characters")
    flags = regex.V0 if case_sensitive else regex.V0 | regex.IGNORECASE  # V0: the syntax of Python's re
    try:
        return regex.compile(pattern, flags)
    except regex.error as exc:
        raise InvalidPattern(f"pattern is not a valid regular expression: {exc.msg}") from None


def pattern_matches(pattern: str, text: str, *, case_sensitive: bool = False) -> bool:
    """A search for the pattern in the text's first MAX_SCANNED characters; PatternTimeout past the limit."""
    compiled = compile_pattern(pattern, case_sensitive)
    try:
        return compiled.search(text[:MAX_SCANNED], timeout=SEARCH_TIMEOUT_S) is not None
    except TimeoutError:
        raise PatternTimeout(pattern[:60]) from None


# Texts that make backtracking patterns explode: long runs of one kind of character with a final misfit.
# Each exactly MAX_SCANNED long, so the misfit at the end is not cut off before the search.
_PROBES = ("a" * (MAX_SCANNED - 1) + "!", "1" * (MAX_SCANNED - 1) + "x", "a " * (MAX_SCANNED // 2 - 1) + "a!")


def probe_pattern(pattern: str, *, case_sensitive: bool = False) -> None:
    """Refuse (InvalidPattern) a pattern that is invalid or runs out of time on an adversarial text.

    A heuristic on top of the real bound (the timeout of every search): it catches the classic
    catastrophic shapes, such as (a+)+$ or (\\w+\\s?)*$, when the rule is saved rather than on traffic.
    """
    for probe in _PROBES:
        try:
            pattern_matches(pattern, probe, case_sensitive=case_sensitive)
        except PatternTimeout:
            raise InvalidPattern(
                "pattern is too slow (catastrophic backtracking on a long text); avoid nested repeats such as (a+)+"
            ) from None


def trigger_matches(trigger: Trigger, text: str, *, first_message: bool, now: datetime) -> bool:
    """Whether the trigger fires on a message with this text, first or not, arriving at `now` (aware).

    PatternTimeout propagates: the caller records why a pattern rule did not fire.
    """
    if isinstance(trigger, KeywordTrigger):
        return keyword_matches(trigger.keywords, text)
    if isinstance(trigger, PatternTrigger):
        return bool(text) and pattern_matches(trigger.pattern, text, case_sensitive=trigger.case_sensitive)
    if isinstance(trigger, FirstMessageTrigger):
        return first_message
    if isinstance(trigger, AwayTrigger):
        return not is_open(trigger.hours, now)
    raise TypeError(f"unknown trigger {type(trigger).__name__}")
