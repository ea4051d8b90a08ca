"""``python -m realtime.studio``: the local web app (Gradio) for the whole job.

Layout: :mod:`~realtime.studio.app` assembles the tabs (:mod:`swap_tab`, :mod:`live_tab`, :mod:`models_tab`);
:mod:`workspace` holds each browser session's files and state, :mod:`jobqueue` runs one job at a time for the
whole app, :mod:`form` turns the Swap tab's choices into the same pipeline options the CLIs parse. Nothing here
is a second pipeline: every tab calls the library code the CLIs call.
"""
