"""Making officers' questions match the guidance's words: abbreviations, typos, synonyms.

Pure functions: the corpus vocabulary is passed in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

# Short forms staff type that the guidance spells out. Acronyms the guidance itself
# uses (NRAC, ISA, PND, RRD...) are left alone: they match as they are.
ABBREVIATIONS = {
    "grp": "group", "grps": "groups", "intel": "intelligence", "info": "information", "yrs": "years",
    "yr": "year", "recs": "records", "rec": "record", "govt": "government", "reqs": "requirements",
    "pls": "", "plz": "", "thx": "", "u": "you", "ur": "your", "r": "are", "wat": "what", "wats": "what is",
    "whats": "what is", "nfa": "no further action", "dob": "date of birth", "eval": "evaluation",
    "w/o": "without", "b4": "before", "kid": "child", "kids": "children",
}

# Everyday words and the guidance's terms for the same thing (stems, as tokenize() gives them).
SYNONYMS = {
    "keep": ("retain", "retent", "kept", "held"),
    "kept": ("retain", "retent", "keep", "held"),
    "hold": ("retain", "retent", "kept"),
    "held": ("retain", "retent", "kept"),
    "long": ("period", "year"),
    "delet": ("dispos", "destroy", "remov", "weed"),
    "wipe": ("dispos", "delet", "destroy"),
    "bin": ("dispos", "delet"),
    "weed": ("dispos", "delet"),
    "get": ("obtain",),
    "share": ("disclos",),
    "tell": ("disclos", "share"),
    "photo": ("imag",),
    "mugshot": ("custodi", "imag"),
    "child": ("children", "young"),
    "boss": ("chief", "senior"),
}

_WORD = re.compile(r"[A-Za-z][A-Za-z'/-]*|\S")


_ACRONYM_DEF = re.compile(r"((?:[A-Za-z][\w'-]*[\s,]+){1,9})\(([A-Z][A-Za-z]{1,7})(?:[\s,;)])")
# The reverse form glossaries use: "NRAC (national retention assessment criteria)".
_ACRONYM_FIRST = re.compile(r"\b([A-Z][A-Z]{1,6}s?)\s+\(((?:[A-Za-z][\w'-]*\s*){2,9})\)")
_SKIP_INITIALS = {"and", "of", "the", "for", "on", "in", "to", "a"}


def mine_acronyms(texts: Collection[str]) -> dict[str, str]:
    """Acronyms the corpus defines, e.g. "national retention assessment criteria (NRAC)" -> NRAC.

    A bracketed capitalised word counts when the initials of the words just before
    it spell it out (small words like "and" and "of" may be skipped).
    """
    found: dict[str, str] = {}
    for text in texts:
        for words_before, acronym in _ACRONYM_DEF.findall(text):
            words = re.findall(r"[A-Za-z][\w'-]*", words_before)
            letters = acronym.upper()
            picked: list[str] = []
            for word in reversed(words):
                if len(picked) == len(letters):
                    break
                wanted = letters[len(letters) - 1 - len(picked)]
                if word[0].upper() == wanted:
                    picked.insert(0, word)
                elif word.lower() not in _SKIP_INITIALS:
                    break
            if len(picked) == len(letters):
                start = words.index(picked[0], max(0, len(words) - 2 * len(letters) - 2))
                found.setdefault(acronym.lower(), " ".join(words[start:]).lower())
        for acronym, words_after in _ACRONYM_FIRST.findall(text):
            acronym = acronym.removesuffix("s") if acronym.endswith("s") and acronym[:-1].isupper() else acronym
            words = [w for w in re.findall(r"[A-Za-z][\w'-]*", words_after)]
            initials = "".join(w[0] for w in words if w.lower() not in _SKIP_INITIALS).upper()
            if initials == acronym.upper():
                found.setdefault(acronym.lower(), " ".join(words).lower())
    return found


def normalise_question(question: str, vocabulary: Collection[str], known_words: Collection[str] = frozenset()) -> str:
    """Expand abbreviations and fix likely typos against the corpus's own words.

    Only words of five letters or more that the corpus never uses are corrected,
    and only to a very close corpus word; anything else is left as typed, so an
    out-of-scope word ("motorway") stays out of scope. ``known_words`` are real
    words of the language (the embedding model's vocabulary): they are never
    "corrected", so "stand for" does not become "strand for".
    """
    out = []
    for token in re.findall(r"\S+|\s+", question):
        core = token.strip(".,;:!?()\"'").lower()
        if core in ABBREVIATIONS:
            replacement = ABBREVIATIONS[core]
            out.append(token.lower().replace(core, replacement) if replacement else "")
        elif len(core) >= 5 and core.isalpha() and core not in vocabulary and core not in known_words:
            # Typos rarely change a word's first letter or length by more than two: comparing only
            # those candidates keeps this to a millisecond instead of a scan of the whole vocabulary.
            candidates = [w for w in vocabulary if w[0] == core[0] and abs(len(w) - len(core)) <= 2]
            close = difflib.get_close_matches(core, candidates, n=1, cutoff=0.84)
            out.append(token.lower().replace(core, close[0]) if close else token)
        else:
            out.append(token)
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


def model_words(model_path) -> frozenset[str]:
    """Whole words of a WordPiece model's vocabulary (``vocab.txt``): a lexicon of real words, for free."""
    from pathlib import Path

    path = Path(model_path) / "vocab.txt"
    if not path.is_file():
        return frozenset()
    words = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.islower())


def spell_out_acronyms(text: str, acronyms: dict[str, str]) -> str:
    """``text`` followed by the expansions of the corpus-defined acronyms it uses, for retrieval.

    Only retrieval sees them: scoring sentences against the expansion's many words
    would dilute the question's own.
    """
    spelled = [acronyms[w] for w in dict.fromkeys(re.findall(r"[a-z]+", text.lower())) if w in acronyms]
    return f"{text} ({'; '.join(spelled)})" if spelled else text


def expand_terms(terms: Collection[str]) -> set[str]:
    """Guidance words for the everyday words among ``terms`` (stems in, stems out), excluding ``terms``."""
    extra = {syn for term in terms for syn in SYNONYMS.get(term, ())}
    return extra - set(terms)


_WHAT_IT_STANDS_FOR = re.compile(r"\b(?:stands? for|short for|acronym|abbreviation|mean by)\b", re.I)


def acronyms_asked_about(question: str, acronyms: dict[str, str]) -> list[str]:
    """Expansions of the acronyms in a "what does X stand for?" question; [] for any other question."""
    if not _WHAT_IT_STANDS_FOR.search(question):
        return []
    return [acronyms[w] for w in dict.fromkeys(re.findall(r"[a-z]+", question.lower())) if w in acronyms]


_FOLLOW_UP = re.compile(r"^\s*(?:and|what about|how about|same for|and what about|what of)\b", re.I)
_WORD_NUMBER = re.compile(r"\b([A-Za-z]+)\s+(\d+[a-z]?)\b")


def merge_follow_up(previous: str, question: str) -> str:
    """Make a follow-up ("and for Group 2?") a whole question, using the question before it.

    A short or elliptical follow-up that names another "word number" (Group 2,
    section 7) takes the previous question with that swapped in; any other short
    follow-up is read together with the previous question. A full question stands alone.
    """
    if not previous or (len(question.split()) > 6 and not _FOLLOW_UP.match(question)):
        return question
    swaps = {word.lower(): number for word, number in _WORD_NUMBER.findall(question)}
    merged, count = _WORD_NUMBER.subn(
        lambda m: f"{m.group(1)} {swaps[m.group(1).lower()]}" if m.group(1).lower() in swaps else m.group(0), previous)
    if count and merged != previous:
        return merged
    return f"{previous} {question}"
