"""Test helpers: fakes that implement real interfaces (fake_openai: an OpenAI-compatible HTTP server), audio
clips, and worker scripts. Imported as `support` (pytest puts tests/ on sys.path)."""
