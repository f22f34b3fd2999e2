"""What kind of answer a question wants, and whether a sentence is that kind.

"How long…" wants a period, "when…" a date or a period, "who…" a role or a
body, "what does X stand for" the words X abbreviates. A sentence that merely
uses the question's words but holds no such thing is not an answer, however
well it matches. The rules read the question's form (its interrogative and
auxiliary) and the sentence's form (numbers with units, dates, a definition's
copula, a proper-noun phrase), not lists of phrases from any question set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

EXPANSION, DEFINITION, DURATION, DATE, WHO, YES_NO, LIST, HOW_TO, OTHER = (
    "expansion", "definition", "duration", "date", "who", "yes_no", "list", "how_to", "other")

_EXPANSION_Q = re.compile(r"\b(?:stands? for|short for|acronym|abbreviation|abbreviated|initials|full form)\b", re.I)
_DEFINITION_Q = re.compile(r"^\s*(?:what(?:'s|’s| is| are| does)?|define|meaning of|definition of)\b"
                           r"(?:.{0,40}\b(?:mean|means|meant)\b|\s+(?:an?|the)?\s*[\w'\"-]+(?:\s+[\w'\"-]+){0,3}\s*\??\s*$)",
                           re.I)
_DURATION_Q = re.compile(r"\bhow (?:long|many (?:years|months|weeks|days))\b|\b(?:retention|clear|review) periods?\b"
                         r"|\bhow often\b|\bperiod\b|\bkept for\b", re.I)
_DATE_Q = re.compile(r"^\s*when\b|\bwhen (?:was|were|did|does|do|is|will|can|should|must)\b|\bwhat (?:date|year|day)\b"
                     r"|\bby when\b|\bdeadline\b|\bdue (?:by|date)\b|\bsince when\b", re.I)
_WHO_Q = re.compile(r"^\s*who\b|\bwho(?:'s| is| are| was| should| must| does| do| can| owns| decides| signs)\b"
                    r"|\bwhich (?:role|officer|body|person|post|team|unit|organisation)\b|\bwhose\b", re.I)
_YES_NO_Q = re.compile(r"^\s*(?:is|are|can|could|should|do|does|did|must|may|will|would|has|have|was|were|am)\b", re.I)
_LIST_Q = re.compile(r"^\s*(?:list|name|give me)\b|\bwhat are (?:the|all)\b|\bwhich are\b"
                     r"|\b(?:principles|criteria|questions|steps|purposes|categories|groups|types|stages|areas)\b", re.I)
_HOW_TO_Q = re.compile(r"^\s*how (?:do|should|can|to|does|would|must|is|are)\b", re.I)

_UNIT = r"(?:years?|months?|weeks?|days?|hours?)"
_NUMBER = r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|fifty|hundred)"
_DURATION = re.compile(rf"\b{_NUMBER}\s*-?\s*{_UNIT}\b|\b(?:indefinitely|until .{{0,40}}\bage\b|lifetime)\b", re.I)
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_DATE = re.compile(rf"\b\d{{1,2}}\s+{_MONTH}\b|\b{_MONTH}\s+\d{{4}}\b|\b(?:19|20)\d{{2}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b", re.I)
# A role or body: a run of two or more capitalised words ("Senior Information Risk Owner",
# "Information Commissioner's Office"), or a "chief officer"-style agent noun phrase.
_PROPER_PHRASE = re.compile(r"\b[A-Z][a-z]+(?:['’]s)?(?:\s+(?:of|for|and|the)?\s*[A-Z][a-z]+){1,5}\b|\b[A-Z]{2,6}s?\b")
_AGENT = re.compile(r"\b(?:\w+(?:er|or|ist|ant|ent)|chief|head|unit|team|board|college|force|inspectorate|panel)s?\b"
                    r"\s+(?:is|are|must|should|will|has|have|holds?|owns?|decides?|carries|reviews?|approves?|signs?)\b"
                    r"|\bresponsib|\baccountab|\bdelegated\b", re.I)
_COPULA = re.compile(r"\b(?:is|are|means|refers to|is defined as|covers|describes|denotes)\b", re.I)
_YES_NO_A = re.compile(r"^(?:yes|no)\b|\b(?:must|may|can|cannot|can't|should|need not|does not|do not|is not|only)\b", re.I)


def detect(question: str) -> str:
    """The answer type ``question`` wants (one of the module's constants)."""
    q = question.strip()
    if _EXPANSION_Q.search(q):
        return EXPANSION
    if _WHO_Q.search(q):
        return WHO
    if _DURATION_Q.search(q) and not _DATE_Q.search(q):
        return DURATION
    if _DATE_Q.search(q):
        return DATE
    if _HOW_TO_Q.search(q):
        return HOW_TO
    if _YES_NO_Q.search(q):
        return YES_NO
    if _DEFINITION_Q.search(q) or subject(q):
        return DEFINITION
    if _LIST_Q.search(q):
        return LIST
    return OTHER


_ASKING = re.compile(r"^\s*(?:what|who|whats|wat|wats|define|meaning of|definition of)(?:'s|’s)?\s+"
                     r"(?:(?:is|are|was|does|do)\s+)?(?:(?:an?|the)\s+)?", re.I)
_TAIL = re.compile(r"\s*(?:(?:actually\s+)?(?:do|does|mean|means|stand for|stands for|cover|covers|involve)|under mopi"
                   r"|in (?:mopi|policing))?\s*\??\s*$", re.I)


def subject(question: str) -> str:
    """The term a "what is X" / "who is X" / "what does X stand for" question is about, or ""."""
    if not _ASKING.match(question) or len(question.split()) > 9:
        return ""
    return _TAIL.sub("", _ASKING.sub("", question, count=1)).strip(" ?\"'")


def holds(kind: str, sentence: str, *, expansions: Sequence[str] = (), term_words: set[str] = frozenset(),
          leads_list: bool = False) -> bool | None:
    """Whether ``sentence`` holds an answer of ``kind``; None when the form says nothing either way.

    ``expansions`` are the spelled-out forms of the acronyms asked about;
    ``term_words`` are the (lower-case) words of the term a definition asks about.
    """
    text = sentence.lower()
    if kind == EXPANSION:
        return any(full in text for full in expansions) if expansions else None
    if kind == DURATION:
        return bool(_DURATION.search(sentence))
    if kind == DATE:
        return bool(_DATE.search(sentence) or _DURATION.search(sentence))
    if kind == WHO:
        return bool(_PROPER_PHRASE.search(sentence) or _AGENT.search(sentence))
    if kind == DEFINITION:
        if expansions and any(full in text for full in expansions):
            return True
        return bool(term_words and any(w in text for w in term_words) and _COPULA.search(sentence)) or None
    if kind == LIST:
        return True if leads_list else None
    if kind == YES_NO:
        return True if _YES_NO_A.search(sentence) else None
    return None
