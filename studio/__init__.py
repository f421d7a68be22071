"""TelME studio: the Gradio app over the `telme` package (`python app.py`, or `studio.launch.main`).

launch (options, services) → layout (components, events) → handlers (the only gr.Error) →
session / inspection (the work, no gradio) → views (tables, plots), exports (CSV, JSON),
media (PyAV cuts and captions), workspace (per-session folders, bounded media store).
"""
