"""Checks a question must pass before any retrieval: personal-record lookups and injected instructions.

Pure functions over the question text, so every rule is unit-tested.
"""

from __future__ import annotations

import re

# Words that make a question about *a record held on someone*, not about guidance.
_RECORD = (r"(?:record|records|file|files|data|details|info|information|intel|intelligence|conviction|convictions|"
           r"convicted|caution|cautions|cautioned|arrest|arrests|arrested|charged|history|entry|entries|nominal|"
           r"profile|custody image|photo|dna|fingerprints?|pnc|pnd|niche|athena|storm|marker|markers|flag|flags|"
           r"visor|mappa|previous|clear period|warning|warnings|anything on)")
_TITLE = r"(?:mr|mrs|ms|miss|mx|dr|sir|dame)\.?"
_NAME_WORD = r"(?:[A-Z][a-z]+|[A-Z]')(?:[-']?[A-Z][a-z]+)?"  # Smith, O'Neill, Smith-Jones
# Capitalised words that start domain phrases, not people's names ("Chief Constable", "Group 3").
_NOT_NAMES = frozenset(
    "the a an and or of in on for to is are was my our your their this that what when where which who how why "
    "can could should would will do does did has have group app mopi hmic hmicfrs pnc pnd nrac isa ims rrd code "
    "codes practice college policing police national chief constable home office building picture lancashire "
    "information management authorised professional data protection act gdpr uk england wales force forces "
    "commissioner crime plan strategy review retention disposal schedule monday tuesday wednesday thursday "
    "friday saturday sunday january february march april may june july august september october november "
    "december section part annex appendix table glossary guidance npcc acpo case custody intelligence "
    "sharing recording evaluation".split()
)
# A street address or a record reference number identifies someone as surely as a name.
_ADDRESS = re.compile(r"\b\d{1,4}[a-z]?,?\s+[A-Z][a-z]+\s+(?:St|Street|Rd|Road|Ave|Avenue|Lane|Ln|Close|Drive|Dr|Way|"
                      r"Crescent|Court|Place|Terrace|Grove|Gardens)\b")
_REFERENCE = re.compile(r"\b(?:nominal|crime|custody|pnc|pnd|occurrence|incident|urn|case|ref|reference)\b"
                        r"(?:\s+(?:ref|reference|no|number|id))?\.?\s*:?\s*#?[A-Z0-9/-]*\d{3,}", re.I)
_DOB = re.compile(r"\b(?:dob|d\.o\.b\.?|date of birth|born (?:on|in)?\s*\d)\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_TITLED_NAME = re.compile(rf"\b{_TITLE}\s+{_NAME_WORD}\b", re.I)
# Someone the asker can identify without naming: "my neighbour", "our lodger". Generic roles
# ("a suspect", "a victim") are how guidance questions are phrased, so they do not count.
_RELATION = re.compile(
    r"\b(?:my|our)\s+(?:neighbou?r|ex|son|daughter|partner|husband|wife|brother|sister|mum|mother|dad|father|"
    r"friend|colleague|boss|cousin|uncle|aunt|nephew|niece|tenant|landlord|lodger|girlfriend|boyfriend)\b(?:'s)?",
    re.I,
)
_SELF = re.compile(rf"\bmy\b.{{0,30}}\b{_RECORD}\b|\b{_RECORD}\b.{{0,20}}\b(?:on|about|of)\s+me\b", re.I)
_LOOKUP = re.compile(
    rf"\b(?:is|are|was|check|look up|lookup|search|find|has|have|does|when (?:is|will))\b.{{0,60}}\b{_RECORD}\b"
    rf"|\b{_RECORD}\b.{{0,40}}\b(?:due|deleted|kept|held|removed|weeded|retained)\b"
    rf"|\b(?:delete|deleted|keep|kept|hold|held|remove|removed|weed|weeded|retain|retained)\b", re.I)

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instruction|instructions|rules|guidance|prompt|"
    r"above|previous|everything|policy|guardrails?)\b"
    r"|\b(?:system prompt|your prompt|developer mode|jailbreak|DAN)\b"
    r"|\byou are now\b|\bact as\b|\bpretend (?:to be|you)\b|\bnew instructions?\b|^\s*(?:system|assistant)\s*:"
    r"|\b(?:print|reveal|show|repeat)\b.{0,30}\b(?:instructions|prompt|configuration|config|secrets?|tokens?)\b",
    re.I | re.M,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def names_in(question: str) -> list[str]:
    """Capitalised word pairs that look like people's names ("John Smith"), minus domain phrases."""
    words = [w.removesuffix("'s").removesuffix("’s") for w in _WORD.findall(question)]
    candidate = [bool(re.fullmatch(_NAME_WORD, w)) and w.lower() not in _NOT_NAMES for w in words]
    names = [f"{a} {b}" for a, b, ok_a, ok_b in zip(words, words[1:], candidate, candidate[1:]) if ok_a and ok_b]
    return names + _TITLED_NAME.findall(question)


def is_personal_record_request(question: str) -> bool:
    """A question about a named or identifiable person's record, which the assistant never answers.

    It holds guidance, not police records; and even a general-sounding answer
    about a named person's record invites a decision that needs the record.
    """
    has_record_word = bool(re.search(rf"\b{_RECORD}\b", question, re.I) or _LOOKUP.search(question))
    if _DOB.search(question) or _ADDRESS.search(question) or _REFERENCE.search(question):
        return True
    if _SELF.search(question):
        return True
    person = names_in(question) or _RELATION.search(question)
    return bool(person) and has_record_word


def strip_injection(question: str) -> tuple[str, bool]:
    """Drop sentences that try to give the assistant instructions; return (what is left, whether any were found).

    The rest of the question is still answered from the guidance as usual:
    injected instructions change nothing.
    """
    parts = [p for p in _SENTENCE.split(question) if p.strip()]
    kept = [p for p in parts if not _INJECTION.search(p)]
    found = len(kept) != len(parts)
    if found and kept == parts:  # pragma: no cover - defensive
        return question, True
    if not found and _INJECTION.search(question):  # one run-on sentence holding an instruction
        clause = _INJECTION.split(question)[0]
        return clause.strip(" ,;:-"), True
    return " ".join(p.strip() for p in kept), found
