"""``quickdraw serve``: the newest pushed model over TF Serving's REST API, and a page to draw against.

``versions`` watches the serving directory and swaps versions without a restart,
``rest`` translates TF Serving's JSON bodies to tensors and back, ``server`` is the
HTTP side (limits, handlers, thread pool), ``page.html`` the drawing page.
"""
