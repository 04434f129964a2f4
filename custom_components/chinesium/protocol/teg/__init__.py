"""TEG / IWFCam family (teg.md): ``codec`` (messages), ``reassembly`` (JPEG frames),
``session`` (:class:`~.session.TegSession`), ``discovery`` (:func:`~.discovery.discover_teg`).

Submodules are imported lazily by the package's dispatchers.
"""
