"""The bundled replay cassettes (JSON): recorded, scrubbed exchanges for nwlab.replay()."""
