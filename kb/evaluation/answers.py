"""Answers as a visitor reads them: orphan list items, fragments, passages stitched together, faithfulness."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.answering.compose import cited_sentences, is_faithful
from kb.answering.readable import (
    MIN_WORDS,
    acts_reversed,
    addressed_to_helper,
    asks_about_crisis,
    asks_for_self,
    assumes_someone_unmentioned,
    is_about_the_text,
    is_crisis_instruction,
    is_unfinished,
    is_yes_no,
    leans_back,
    opens_with_reply,
    themes_unraised,
    unbalanced_quotes,
    word_count,
)
from kb.ingest.passage import Unit, passage_units, plain
from kb.ingest.sentences import LIST_MARKER, sentence_spans
from kb.records import Answer, Chunk

SAMPLE = 40
TRAIN_SHARE = 70  # percent of counsel-chat questions, by a stable hash of their id, that we may tune on and read
PARTS = ("train", "held-out")


def counsel_chat_part(row_id: str) -> str:
    """'train' or 'held-out' for a counsel-chat question: a stable hash of its id, 70% train."""
    bucket = int(hashlib.sha256(str(row_id).encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < TRAIN_SHARE else "held-out"


@dataclass
class AnswerCheck:
    """What a reader would trip over in one answer."""

    question: str
    answer: Answer
    answered: bool
    from_directory: bool
    passages: int  # passages the answer quotes
    faithful: bool
    orphans: list[str] = field(default_factory=list)  # list items quoted without the line that introduces them
    fragments: list[str] = field(default_factory=list)  # "kind: text"


def _locate(chunk_text: str, quoted: str) -> tuple[int, int] | None:
    """Where a quoted piece sits in its passage, allowing for dropped emphasis marks."""
    at = chunk_text.find(quoted)
    if at >= 0:
        return at, at + len(quoted)
    pattern = r"(?:\*\*|__)?".join(re.escape(ch) for ch in quoted)
    match = re.search(pattern, chunk_text)
    return (match.start(), match.end()) if match else None


def check_answer(question: str, answer: Answer) -> AnswerCheck:
    """Orphan list items, fragments and faithfulness of one answer (a directory answer quotes no passage)."""
    from_directory = bool(getattr(answer, "from_directory", False))
    check = AnswerCheck(
        question,
        answer,
        bool(answer.text),
        from_directory,
        len(answer.citations),
        from_directory or is_faithful(answer.text, answer.citations, answer.passages),
    )
    if not answer.text or from_directory:
        return check
    chunks: dict[str, Chunk] = {h.chunk.id: h.chunk for h in answer.passages}
    by_n = {c.n: chunks.get(c.chunk_id) for c in answer.citations}
    units: dict[str, list[Unit]] = {}
    runs: list[list[tuple[str, bool]]] = []  # consecutive pieces from one passage: (sentence, is a list item)
    last: tuple[int, int] | None = None  # (citation, end of the previous piece in its passage)
    for piece, n in cited_sentences(answer.text):
        item = bool(LIST_MARKER.match(piece))
        body = LIST_MARKER.sub("", piece, count=1).strip()
        chunk = by_n.get(n)
        where = _locate(chunk.text, body) if chunk else None
        if chunk is not None and where is not None:
            covered = [
                u for u in units.setdefault(chunk.id, passage_units(chunk)) if u.start < where[1] and u.end > where[0]
            ]
            item = item or any(u.item for u in covered)
            for u in covered:
                if u.item:
                    lead = units[chunk.id][u.lead_in] if u.lead_in is not None else None
                    if lead is None or plain(lead.text(chunk.text)) not in answer.text:
                        check.orphans.append(body)
                        break
            follows = last is not None and last[0] == n and not chunk.text[last[1] : where[0]].strip()
            last = (n, where[1])
        else:
            follows = False
        for s, e in sentence_spans(body):
            sentence = body[s:e]
            if is_yes_no(sentence):
                check.fragments.append(f"yes/no: {sentence}")
            if addressed_to_helper(sentence) and asks_for_self(question):
                check.fragments.append(f"to a helper: {sentence}")
            if assumes_someone_unmentioned(sentence, question):
                check.fragments.append(f"someone not mentioned: {sentence}")
            # A section whose heading asks what the visitor asks may give its own safety line ("If you have chest
            # pain you have never had before, call 911" in a panic-attack answer): it is written for that question.
            from_heading = getattr(answer, "from_heading", False)
            if is_crisis_instruction(sentence) and not (
                answer.crisis.detected or asks_about_crisis(question) or from_heading
            ):
                check.fragments.append(f"crisis text without a crisis: {sentence}")
            if is_about_the_text(sentence):
                check.fragments.append(f"about the page: {sentence}")
            if not item and is_unfinished(sentence):
                check.fragments.append(f"unfinished: {sentence}")
        if body.startswith("#") or (body.endswith(":") and not item and not _list_follows(answer.text, piece)):
            check.fragments.append(f"heading or dangling lead-in: {body}")
        if follows and runs:
            runs[-1].append((body, item))
        else:
            runs.append([(body, item)])
    if not answer.crisis.detected:
        for citation in answer.citations:
            for theme in sorted(themes_unraised(citation.title, citation.section, question)):
                check.fragments.append(f"a theme not raised ({theme}): {citation.section}")
            for act in sorted(acts_reversed(citation.title, citation.section, question)):
                check.fragments.append(f"the other side ({act}): {citation.section}")
    for run in runs:
        text = " ".join(body for body, _ in run)
        first = run[0][0]
        if leans_back(first):
            check.fragments.append(f"opens mid-thought: {first}")
        if opens_with_reply(first) and not is_yes_no(first) and not getattr(answer, "from_heading", False):
            check.fragments.append(f"a reply to another question: {first}")
        if unbalanced_quotes(text):
            check.fragments.append(f"unbalanced quotes: {text}")
        if len(run) == 1 and not run[0][1] and len(sentence_spans(text)) <= 1 and word_count(text) < MIN_WORDS:
            check.fragments.append(f"short sentence alone: {text}")
    return check


def _list_follows(answer_text: str, piece: str) -> bool:
    """Whether the line after a lead-in in the answer is a list item."""
    after = answer_text.split(piece, 1)[-1].lstrip(" []0123456789")
    return after.startswith("\n") and bool(LIST_MARKER.match(after.lstrip("\n")))


def answer_metrics(checks: list[AnswerCheck]) -> dict[str, Any]:
    """The answer-as-read numbers `kb eval` reports."""
    answered = [c for c in checks if c.answered]
    quoted = [c for c in answered if not c.from_directory]
    kinds: dict[str, int] = {}
    for c in quoted:
        for fragment in c.fragments:
            kind = fragment.split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1

    def share(k: int) -> float:
        return k / len(quoted) if quoted else 0.0

    return {
        "questions": len(checks),
        "answered": len(answered),
        "abstention_rate": 1 - len(answered) / len(checks) if checks else 0.0,
        "directory_answers": sum(c.from_directory for c in answered),
        "orphan_list_items": sum(len(c.orphans) for c in quoted),
        "answers_with_orphans": sum(bool(c.orphans) for c in quoted),
        "fragments": sum(len(c.fragments) for c in quoted),
        "answers_with_fragments": sum(bool(c.fragments) for c in quoted),
        "fragment_kinds": dict(sorted(kinds.items())),
        "single_passage_share": share(sum(c.passages == 1 for c in quoted)),
        "mean_passages": share(sum(c.passages for c in quoted)),
        "faithfulness": share(sum(c.faithful for c in quoted)) if quoted else 1.0,
        "unfaithful": sum(not c.faithful for c in quoted),
    }


def metrics_markdown(metrics: dict[str, Any]) -> list[str]:
    """The numbers as Markdown lines for an eval report."""
    m = metrics
    return [
        f"{m['answered']} of {m['questions']} questions answered (abstention {m['abstention_rate']:.3f}; "
        f"{m['directory_answers']} from the therapist directory).",
        "",
        "| orphan list items | answers with fragments | fragments | single-passage share | mean passages | "
        "faithfulness |",
        "|---|---|---|---|---|---|",
        f"| {m['orphan_list_items']} | {m['answers_with_fragments']} | {m['fragments']} | "
        f"{m['single_passage_share']:.3f} | {m['mean_passages']:.2f} | {m['faithfulness']:.3f} |",
        "",
        "Fragments by kind: " + (", ".join(f"{k} {v}" for k, v in m["fragment_kinds"].items()) or "none"),
        "",
    ]


def sample(checks: list[AnswerCheck], n: int = SAMPLE, skip: int = 0) -> list[AnswerCheck]:
    """A stable sample: the n questions whose text hashes lowest (the same ones run after run), after the first
    `skip` of them (a later read of questions no one has looked at yet)."""
    return sorted(checks, key=lambda c: hashlib.sha256(c.question.encode()).hexdigest())[skip : skip + n]


def sample_markdown(title: str, checks: list[AnswerCheck]) -> str:
    """Answers as a person would read them, with their sources and what the checks flagged."""
    out = [f"# {title}", "", f"{len(checks)} answers, chosen by a stable hash of the question.", ""]
    for i, c in enumerate(checks, 1):
        out += [f"## {i}. {' '.join(c.question.split())[:300]}", ""]
        answer = c.answer
        if answer.crisis.detected:
            out += [f"_Crisis resources shown first ({answer.crisis.kind})._", ""]
        if not answer.text:
            out += ["_Abstained._", ""]
        else:
            out += [answer.text, ""]
            if c.from_directory:
                out += ["_From the therapist directory._", ""]
            for cit in answer.citations:
                out.append(f"- [{cit.n}] {cit.title}" + (f" > {cit.section}" if cit.section else ""))
            out.append("")
        for problem in [f"orphan list item: {o}" for o in c.orphans] + c.fragments:
            out.append(f"- **flag** {problem}")
        if c.answer.therapists:
            out += ["", "Therapists: " + ", ".join(t.name for t in c.answer.therapists)]
        out.append("")
    return "\n".join(out) + "\n"


def write_sample(folder: Path, name: str, title: str, checks: list[AnswerCheck]) -> Path:
    """Write the sample of answers to folder/name.md."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(sample_markdown(title, sample(checks)), encoding="utf-8")
    return path
