"""Pictures and lessons: the architecture and the supergraph as SVG (`draw`), one controller update step by
step (`lesson`), a run's slides (`frames`, drawn as a GIF by `slides_gif` and as an HTML page by `slides`), and a
trained child on one image (`probe`). Imports the engine and everything below it, never Streamlit (the app draws
these)."""
