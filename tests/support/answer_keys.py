"""Reference-only questions written in a test (an instructor's answer key), and their overall grade."""

from infralens_coach.content import Question


def key(question: str, reference: str, card: int = 902) -> Question:
    return Question(card=card, id="answer-key", question=question, reference_answer=reference)


def overall(bank, grader, question: Question, answer: str) -> int:
    return grader.grade(question, bank.rubric, answer).overall
