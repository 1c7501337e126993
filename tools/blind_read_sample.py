"""Write reports/blind-read-answers.md: the answers `kb ask` gives to 40 held-out counsel-chat questions, as the CLI
prints them, for a reader who has not seen the code to score (reports/blind-read-scores.md). The questions are read
from ../shared at run time and the answers file stays out of git (it quotes them).

    .venv/bin/python tools/blind_read_sample.py [--skip N] [--part train] [../shared/data/counsel-chat/train.jsonl]

--skip N: leave out the N lowest-hashing questions (already read) and take the next 40. The first read
(session 4) used --skip 0; the second (session 5) --skip 40, questions no one here had looked at.
--part train: questions from the train part instead, for a read that may guide changes (a held-out read may not).
"""

from __future__ import annotations

import sys
from pathlib import Path

from kb.answering.present import answer_as_text
from kb.config import load_settings
from kb.evaluation.answers import check_answer, counsel_chat_part, sample
from kb.evaluation.counsel_chat import load_rows, question_text
from kb.knowledge_base import KnowledgeBase

DATA = Path("../shared/data/counsel-chat/train.jsonl")


def main() -> None:
    args = sys.argv[1:]
    skip, part = 0, "held-out"
    while args[:1] in (["--skip"], ["--part"]):
        if args[0] == "--skip":
            skip = int(args[1])
        else:
            part = args[1]
        args = args[2:]
    data = Path(args[0]) if args else DATA
    kb = KnowledgeBase(load_settings())
    rows = [r for r in load_rows(data) if counsel_chat_part(r["id"]) == part and question_text(r)]
    chosen = sample([check_answer(question_text(r), kb.ask(question_text(r))) for r in rows], skip=skip)
    out = [
        f"# Answers to 40 {part} counsel-chat questions, as the CLI prints them",
        "",
        f"The 40 questions of counsel-chat's {part} part whose text hashes lowest after the first {skip}; `kb ask` on"
        " the shipped corpus.",
        "",
    ]
    for n, check in enumerate(chosen, 1):
        out += [f"## {n}. Question", "", "> " + " ".join(check.question.split()), "", "Answer:", "", "```"]
        out += [answer_as_text(check.answer), "```", ""]
    path = Path("reports") / "blind-read-answers.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(chosen)} answers of {len(rows)} {part} questions)")


if __name__ == "__main__":
    main()
