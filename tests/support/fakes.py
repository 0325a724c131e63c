"""Fakes that implement our protocols, and a card-7 answer several test modules grade."""

from infralens_coach.errors import GraderUnavailable

JOB_ANSWER = (
    "A Job is for finite batch work like preprocessing or a training run: it runs until it completes "
    "and retries failed pods. A Deployment keeps a desired number of replicas running for an inference API."
)


class FailingGrader:
    """A grader that cannot be reached (implements the Grader protocol)."""

    name = "llm:fake/unreachable"

    def __init__(self, reason: str = "the LLM at http://127.0.0.1:9 refused the connection") -> None:
        self.reason = reason

    def grade(self, question, rubric, answer):
        raise GraderUnavailable(self.reason)
