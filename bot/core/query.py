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


def normalise_question(question: str, vocabulary: Collection[str]) -> str:
    """Expand abbreviations and fix likely typos against the corpus's own words.

    Only words of five letters or more that the corpus never uses are corrected,
    and only to a very close corpus word; anything else is left as typed, so an
    out-of-scope word ("motorway") stays out of scope.
    """
    out = []
    for token in re.findall(r"\S+|\s+", question):
        core = token.strip(".,;:!?()\"'").lower()
        if core in ABBREVIATIONS:
            replacement = ABBREVIATIONS[core]
            out.append(token.lower().replace(core, replacement) if replacement else "")
        elif len(core) >= 5 and core.isalpha() and core not in vocabulary:
            close = difflib.get_close_matches(core, vocabulary, n=1, cutoff=0.84)
            out.append(token.lower().replace(core, close[0]) if close else token)
        else:
            out.append(token)
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


def expand_terms(terms: Collection[str]) -> set[str]:
    """Guidance words for the everyday words among ``terms`` (stems in, stems out), excluding ``terms``."""
    extra = {syn for term in terms for syn in SYNONYMS.get(term, ())}
    return extra - set(terms)
