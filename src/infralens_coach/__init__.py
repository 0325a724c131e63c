"""infralens-coach: rehearse AI-infrastructure interview answers out loud."""

__version__ = "0.1.0"
