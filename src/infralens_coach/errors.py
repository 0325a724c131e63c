"""Errors whose messages are safe to show a user as they are.

The CLI turns them into one line on stderr and exit code 2; the web app into gr.Error.
"""


class CoachError(Exception):
    """Base class: something the user can act on."""


class ContentError(CoachError):
    """A question pack or rubric is missing, unreadable or invalid."""


class UnknownQuestionError(ContentError):
    """The requested card number or id is not in the bank."""


class AnswerError(CoachError):
    """The answer text is empty or unreadable."""


class AudioError(CoachError):
    """Audio could not be read or decoded, or is too long."""


class NoSpeechError(AudioError):
    """The recording holds no usable speech."""


class TranscriptionError(CoachError):
    """The speech engine failed or is not installed."""


class GraderError(CoachError):
    """A grader could not produce a grade."""


class GraderUnavailable(GraderError):
    """The grader is not configured or cannot be reached."""


class GradeParseError(GraderError):
    """The grader answered, but not with a valid grade."""


class HistoryError(CoachError):
    """The history database cannot be opened or written, or an attempt id is unknown."""
