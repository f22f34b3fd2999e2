"""Thumbs-down and wrong-source feedback as draft evaluation items, in the golden YAML format.

Every item is ``status: draft`` with a ``review:`` note: a person checks the question, fills in
category, expected_docs, must_include_any and should_refuse, and deletes the draft fields before
the item joins a set. evals.dataset.load_dataset refuses a draft item, so a draft file cannot be
run as an evaluation set by accident.
"""

from __future__ import annotations

from collections import Counter

import yaml

from bot.reports.audit import NEGATIVE_KINDS, NOT_COVERED, Audit

DRAFT = "draft"
_HEADER = """\
# Draft evaluation items from Slack feedback (`mopi feedback export --as-golden`), {created}.
# Each is a thumbs-down or wrong-source case, status: draft. Before an item joins a set, a person:
#   - checks the question is about the guidance (not a person) and says what the answer should be;
#   - sets category, expected_docs (the right documents, not necessarily those cited), expected_sections,
#     must_include_any and should_refuse (see the head of evals/datasets/golden.yaml);
#   - deletes status, review, feedback, refused and cited.
# evals.dataset.load_dataset refuses a file holding any item with status: draft.
# Left out: {withheld} cases on refusals about a person's records or injection attempts (their text is
# about people), {missing} cases whose answer is not in the audit database.
"""


def _review_note(refused: bool, reason: str, kinds: Counter) -> str:
    said = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
    if refused and reason == NOT_COVERED:
        why = "Refused as not covered, yet marked down: check whether the guidance does cover it."
    elif refused:
        why = "Refused, yet marked down: check whether it should have been answered."
    elif kinds["wrong_source"]:
        why = "Answered, but marked as citing the wrong source: find the right document and section."
    else:
        why = "Answered, but marked down: check what a right answer says and where the guidance says it."
    return f"Feedback: {said}. {why} Review before adding to a set."


def golden_drafts(audit: Audit, created: str) -> str:
    """The YAML text: one draft item per answer with negative feedback, oldest feedback first."""
    kinds: dict[str, Counter] = {}
    for fb in audit.feedback:
        if fb.kind in NEGATIVE_KINDS:
            kinds.setdefault(fb.answer_id, Counter())[fb.kind] += 1
    items, withheld, missing = [], 0, 0
    for answer_id, counts in kinds.items():
        answer = audit.by_id.get(answer_id)
        if answer is None:
            missing += 1
            continue
        if answer.withheld:
            withheld += 1
            continue
        cited = [f"{c.doc_id} § {c.section}" if c.section else c.doc_id for c in answer.citations] or list(
            answer.cited_doc_ids)
        items.append({
            "id": f"draft-{answer_id}",
            "status": DRAFT,
            "review": _review_note(answer.refused, answer.refusal_reason, counts),
            "feedback": dict(sorted(counts.items())),
            "refused": answer.refused,
            "cited": cited,
            "category": "",
            "question": answer.question,
            "expected_docs": [],
            "must_include_any": [],
            "should_refuse": False,
        })
    header = _HEADER.format(created=created, withheld=withheld, missing=missing)
    if not items:  # comments only: no list, so not even an empty set loads from it
        return header + "# No thumbs-down or wrong-source feedback to draft from.\n"
    return header + yaml.safe_dump(items, sort_keys=False, allow_unicode=True, width=110)
