"""Content generation: script, voice, media (domain functions) and their provider adapters.

Domain modules (`script`, `voice`, `media`) import only ports; adapter modules (`openai_chat`,
`google_tts`, `pexels`) hold the SDK imports and are imported lazily by the composition root.
"""
