"""Music attributes measured from the audio (tempo, key, meter) and tags from audio-tagging models."""
