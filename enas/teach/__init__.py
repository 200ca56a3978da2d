"""Pictures and lessons: the architecture and the supergraph as SVG (`draw`), one controller update step by
step (`lesson`), and a run's slides (`frames`, drawn as a GIF by `slides_gif` and as an HTML page by
`slides`). Imports the engine and everything below it, never Streamlit (the app draws these)."""
