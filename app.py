"""TelME studio, the Hugging Face Space entry point (`app_file: app.py`): `python app.py --help`.

The app is the `studio` package: launch (options), layout, handlers, session, inspection, views,
exports, media and workspace.
"""

from studio.launch import main

if __name__ == "__main__":
    main()
